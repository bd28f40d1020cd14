"""One deployment, start to finish: clone -> build -> run -> health check -> switch -> retire.

A failure at any stage removes what this deployment created and leaves the live version alone.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import docker.errors

from control import deployments as ctl, envvars
from core.errors import Cancelled, DeployError
from core.secrets import SecretKeyError
from edge import caddy, labels as lbl
from edge.sync import sync as sync_edge
from jobs import build, clone, run
from jobs.health import HealthSpec
from jobs.progress import DeployLog
from models.db import session
from models.tables import Deployment, Project, Service, ServiceStatus

log = logging.getLogger("renderlite.worker")


def image_repo(service: str) -> str:
    return f"renderlite/{service}"


def deploy(platform, deployment_id: int) -> str:
    """Run one deployment. Returns its final status. Never raises for user errors."""
    s = platform.settings
    with session(platform.engine) as db:
        dep = db.get(Deployment, deployment_id)
        if dep is None or dep.status != "QUEUED":
            return dep.status if dep else "MISSING"
        newer = ctl.newer_queued(db, dep)
        if newer:
            ctl.fail(db, dep.id, "queue", f"superseded by deployment #{newer.id} of the same service")
            return "FAILED"
        svc = db.get(Service, dep.service_id)
        project = db.get(Project, svc.project_id)
        if not ctl.start_building(db, dep.id):
            return "FAILED"
        ctl.set_service_status(db, svc.id, ServiceStatus.BUILDING)
    out = DeployLog(platform.redis, s.redis_prefix, dep.id)
    ident = lbl.Identity(s.instance, project.name, svc.name, dep.id, svc.subdomain, svc.container_port)
    tag = f"{image_repo(svc.name)}:{dep.id}"
    workdir = Path(tempfile.mkdtemp(prefix=f"renderlite-{svc.name}-{dep.id}-"))
    container = None
    t0 = time.monotonic()
    cancelled = lambda: ctl.cancel_requested(platform, dep.id)  # noqa: E731

    def checkpoint():
        if cancelled():
            raise Cancelled("cancelled by a user")
    try:
        sha = clone.run(clone.ClonePlan(svc.repo_url, svc.branch, workdir / "src", s.clone_timeout), out)
        with session(platform.engine) as db:
            ctl._transition(db, dep.id, ["BUILDING"], commit_sha=sha)
        plan = build.plan(workdir / "src", svc.root_dir, svc.dockerfile_path, tag, lbl.image_labels(ident), s.build_timeout)
        checkpoint()
        build.run(platform.docker, plan, out, cancelled)
        checkpoint()
        with session(platform.engine) as db:
            env = envvars.decrypted(db, s, svc.id)
        out.line(f"==> Environment: {len(env)} variable(s) from the service settings" +
                 (f" ({', '.join(sorted(env))})" if env else ""))
        cplan = run.ContainerPlan(name=f"rl-{s.instance}-{svc.name}-{dep.id}", image=tag, port=svc.container_port,
                                  env=env,
                                  network=s.apps_network, labels=lbl.container_labels(ident, s.domain, s.apps_network),
                                  memory_mb=s.app_memory_mb, cpus=s.app_cpus, pids=s.app_pids)
        container = run.start(platform.docker, cplan, out)
        run.wait_healthy(container, cplan, HealthSpec.from_service(svc, s.health_timeout), out)
        checkpoint()
        switch(platform, svc, dep.id, container.id, tag, out)
        out.line(f"==> Live at {s.service_url(svc.subdomain)} ({time.monotonic() - t0:.1f} s)")
        with session(platform.engine) as db:
            ctl.succeed(db, dep.id, log=out.text())
    except Exception as e:  # every failure ends the deployment FAILED, exactly once
        fail(platform, svc, dep.id, e, container, tag, out)
        return "FAILED"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    retire_old(platform, svc, container.id, tag)
    return "SUCCESS"


def fail(platform, svc: Service, dep_id: int, e: Exception, container, tag: str, out) -> None:
    if isinstance(e, SecretKeyError):
        e = DeployError(f"cannot decrypt the service's environment variables: {e}; the app was not started")
        e.stage = "config"
    stage = e.stage if isinstance(e, DeployError) else "internal"
    reason = str(e) if isinstance(e, DeployError) else f"internal error: {type(e).__name__}: {e}; see the worker log"
    if not isinstance(e, DeployError):
        log.exception("deployment %s crashed", dep_id)
    out.line(f"==> FAILED at {stage}: {reason}")
    cleanup_failed(platform, container, tag)
    with session(platform.engine) as db:
        ctl.fail(db, dep_id, stage, reason, log=out.text())
        fresh = db.get(Service, svc.id)
        ctl.set_service_status(db, svc.id, ServiceStatus.RUNNING if fresh.live_deployment_id else ServiceStatus.FAILED)


def switch(platform, svc: Service, dep_id: int, container_id: str, tag: str, out) -> None:
    """Point the route at the new container (the database says which one is live)."""
    s = platform.settings
    with session(platform.engine) as db:
        ctl.set_service_status(db, svc.id, ServiceStatus.RUNNING, live_deployment_id=dep_id)
        ctl._transition(db, dep_id, ["BUILDING"], image_tag=tag, container_id=container_id)
    sync_edge(platform)
    out.line(f"==> Routed {svc.subdomain}.{s.domain} to deployment #{dep_id}")


def retire_old(platform, svc: Service, live_container_id: str, live_tag: str) -> None:
    """After the drain period, stop the service's other containers and prune old images."""
    s = platform.settings
    old = [c for c in platform.docker.containers.list(all=True, filters=lbl.selector(s.instance, service=svc.name))
           if c.id != live_container_id]
    if old:   # the edge moves new requests within its DNS refresh; then in-flight ones get the drain
        time.sleep(caddy.REFRESH_S + 0.5 + s.drain_seconds)
    for c in old:
        log.info("retiring %s", c.name)
        try:
            c.stop(timeout=10)
        except docker.errors.APIError:
            pass
        run.remove(c)
    prune_images(platform, svc.name, keep=s.keep_images, live_tag=live_tag)


def prune_images(platform, service: str, keep: int, live_tag: str) -> None:
    tags = []
    for img in platform.docker.images.list(name=image_repo(service)):
        for t in img.tags:
            if t.startswith(image_repo(service) + ":") and t.rsplit(":", 1)[1].isdigit():
                tags.append(t)
    tags.sort(key=lambda t: int(t.rsplit(":", 1)[1]), reverse=True)
    for t in tags[keep:]:
        if t != live_tag:
            try:
                platform.docker.images.remove(t, noprune=False)
            except docker.errors.APIError:
                pass


def cleanup_failed(platform, container, tag: str) -> None:
    if container is not None:
        run.remove(container)
    try:
        platform.docker.images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as e:
        log.warning("could not remove image %s: %s", tag, e)
