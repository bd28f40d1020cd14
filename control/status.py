"""Status is the truth: reconcile each service's status with what the Docker engine reports.

Runs in the edge watcher on every Docker event for our containers and every few seconds.
A container that keeps crashing is restarted by Docker with back-off (its restart policy) up
to MAX_RESTARTS times; then RenderLite stops it and shows the service as crashed with its
exit code and last output. The edge answers 503 for it (see edge/caddy.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import docker.errors

from core.text import clean
from jobs.run import exit_hint
from sqlalchemy import update
from sqlmodel import select

from models.db import session
from models.tables import Deployment, Service, ServiceStatus

log = logging.getLogger("renderlite.status")
MAX_RESTARTS = 5


@dataclass(frozen=True)
class Observed:
    """A container's state, narrowed from Docker's inspect output."""
    exists: bool
    running: bool
    restarting: bool
    exit_code: int | None
    restarts: int
    logs: str
    gave_up: bool = False   # Docker's restart policy is already "no": RenderLite stopped the loop
    oom: bool = False       # the kernel's OOM killer ended it (the memory limit)


def observe(client, container_id: str | None) -> Observed:
    try:
        c = client.containers.get(container_id)
    except (docker.errors.NotFound, docker.errors.NullResource):
        return Observed(False, False, False, None, 0, "")
    st = c.attrs.get("State", {})
    logs = ""
    if not st.get("Running") or st.get("Restarting") or c.attrs.get("RestartCount", 0):
        try:
            logs = clean(c.logs(tail=15).decode("utf-8", "replace")).rstrip()
        except docker.errors.APIError:
            pass
    policy = (c.attrs.get("HostConfig", {}).get("RestartPolicy") or {}).get("Name") or "no"
    return Observed(True, bool(st.get("Running")) and not st.get("Restarting"), bool(st.get("Restarting")),
                    st.get("ExitCode"), int(c.attrs.get("RestartCount", 0) or 0), logs, gave_up=policy == "no",
                    oom=bool(st.get("OOMKilled")))


def judge(current: str, seen: Observed, unhealthy: str | None = None) -> tuple[str, str | None]:
    """Pure: the status a service should show, given its live container's observed state (and
    what the health monitor says of it, if it is failing its checks)."""
    if current in (ServiceStatus.STOPPED.value, ServiceStatus.BUILDING.value):
        return current, None
    if not seen.exists:
        return ServiceStatus.CRASHED.value, "the live container was removed outside RenderLite; deploy again"
    if seen.running:
        return (ServiceStatus.UNHEALTHY.value, unhealthy) if unhealthy else (ServiceStatus.RUNNING.value, None)
    if unhealthy and not seen.restarting:
        # between the stop and the start of the restart the health monitor ordered: not a crash
        return ServiceStatus.UNHEALTHY.value, unhealthy
    out = f" Last output:\n{seen.logs}" if seen.logs else ""
    if seen.restarting or seen.restarts:
        stopped = " RenderLite stopped restarting it; fix the app and deploy again, or press Start." if seen.gave_up else ""
        return (ServiceStatus.CRASHED.value,
                f"the app keeps exiting (code {seen.exit_code}{exit_hint(seen.exit_code, seen.oom)}, restarted {seen.restarts} "
                f"times).{stopped}{out}")
    return ServiceStatus.CRASHED.value, f"the app stopped (exit code {seen.exit_code}){exit_hint(seen.exit_code, seen.oom)}.{out}"


def reconcile(platform, unhealthy: dict[str, str] | None = None) -> list[str]:
    """Update statuses; stop crash-looping containers. Returns the names of services that changed.

    Each write is a compare-and-set on the status this pass read, so a user's stop, or a deploy
    that started meanwhile, is never overwritten by an observation made before it."""
    changed = []
    with session(platform.engine) as db:
        services = db.exec(select(Service).where(Service.live_deployment_id.is_not(None))).all()
        deps = {d.id: d for d in db.exec(select(Deployment).where(
            Deployment.id.in_([s.live_deployment_id for s in services]))).all()} if services else {}
    for svc in services:
        dep = deps.get(svc.live_deployment_id)
        seen = observe(platform.docker, dep.container_id if dep else None)
        if seen.restarts >= MAX_RESTARTS and (seen.restarting or not seen.running) and not seen.gave_up:
            _give_up(platform.docker, dep.container_id)
        status, detail = judge(svc.status, seen, (unhealthy or {}).get(svc.name))
        if (status, detail) == (svc.status, svc.status_detail) or svc.status == ServiceStatus.BUILDING.value:
            continue
        with session(platform.engine) as db:
            res = db.exec(update(Service).where(Service.id == svc.id, Service.status == svc.status,
                                                Service.live_deployment_id == svc.live_deployment_id)
                          .values(status=status, status_detail=detail))
            db.commit()
        if res.rowcount == 1 and svc.status != status:
            log.info("service %s: %s -> %s", svc.name, svc.status, status)
            changed.append(svc.name)
    return changed


def _give_up(client, container_id: str) -> None:
    try:
        c = client.containers.get(container_id)
        c.update(restart_policy={"Name": "no", "MaximumRetryCount": 0})
        c.stop(timeout=5)
    except docker.errors.APIError:
        pass
