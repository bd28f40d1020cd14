"""Plain-dict views of the tables for the API, CLI and dashboard (no secrets, no raw rows)."""
from __future__ import annotations

from models.tables import REDEPLOY, Deployment, Project, Service


def _ts(dt):
    return dt.isoformat() if dt else None


def project(p: Project) -> dict:
    return {"id": p.id, "name": p.name, "created_at": _ts(p.created_at)}


def service(s: Service, settings) -> dict:
    return {"id": s.id, "project_id": s.project_id, "name": s.name, "repo_url": s.repo_url, "branch": s.branch,
            "root_dir": s.root_dir, "dockerfile_path": s.dockerfile_path, "runtime": s.runtime,
            "subdomain": s.subdomain, "port": s.container_port or "auto", "status": s.status,
            "live_deployment_id": s.live_deployment_id, "status_detail": s.status_detail,
            "builder": s.builder, "build_command": s.build_command, "start_command": s.start_command,
            "submodules": s.submodules, "memory_mb": s.memory_mb, "cpus": s.cpus, "pids": s.pids,
            "health_type": s.health_type, "health_path": s.health_path, "health_interval": s.health_interval,
            "health_timeout": s.health_timeout, "health_start_period": s.health_start_period,
            "health_retries": s.health_retries,
            "url": settings.service_url(s.subdomain) if s.live_deployment_id else None}


def deployment(d: Deployment, with_log: bool = False) -> dict:
    out = {"id": d.id, "service_id": d.service_id, "status": d.status, "commit_sha": d.commit_sha,
           "image_tag": d.image_tag, "port": d.port, "rollback_of": d.source_deployment_id if d.kind != REDEPLOY else None,
           "redeploy_of": d.source_deployment_id if d.kind == REDEPLOY else None,
           "runs_as_root": d.runs_as_root, "build_plan": d.build_plan, "failure_stage": d.failure_stage, "failure_reason": d.failure_reason,
           "created_at": _ts(d.created_at), "started_at": _ts(d.started_at), "finished_at": _ts(d.finished_at),
           "duration_s": round((d.finished_at - d.started_at).total_seconds(), 1) if d.finished_at and d.started_at else None}
    if with_log:
        out["log"] = d.log
    return out
