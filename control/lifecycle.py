"""Service lifecycle: stop, start, restart, delete, rename the subdomain, update settings.

Each action holds the service's deploy lock, so it never interleaves with a deployment, and
ends by recomputing the edge's routes from the database and Docker.
"""
from __future__ import annotations

import contextlib
import time

import docker.errors
from sqlmodel import delete as sql_delete, select

from control.locks import ServiceLock
from control.projects import create_service as save_service, get_service
from core.errors import NotFound, RenderLiteError, ValidationError
from edge import caddy
from edge.labels import image_repo, selector
from edge.sync import sync as sync_edge, sync_soon
from jobs.health import HealthSpec
from jobs.run import ContainerPlan, StartError, wait_healthy
from control.service_settings import columns
from models import validation as v
from models.db import session
from models.tables import Deployment, EnvVar, Service, ServiceStatus


class Busy(RenderLiteError):
    pass


@contextlib.contextmanager
def service_lock(platform, service_id: int, wait: float = 30):
    lock = ServiceLock(platform.redis, platform.settings.redis_prefix, service_id)
    if not lock.acquire(wait=wait):
        raise Busy("a deployment of this service is running; try again when it has finished")
    try:
        yield
    finally:
        lock.release()


def live_container(platform, svc: Service):
    if not svc.live_deployment_id:
        raise NotFound(f"service '{svc.name}' has no live deployment; deploy it first")
    with session(platform.engine) as db:
        dep = db.get(Deployment, svc.live_deployment_id)
    try:
        return platform.docker.containers.get(dep.container_id)
    except (docker.errors.NotFound, docker.errors.NullResource):
        raise NotFound(f"the container of deployment #{dep.id} is gone; deploy '{svc.name}' again") from None


def _set(platform, svc_id: int, **values) -> Service:
    with session(platform.engine) as db:
        svc = db.get(Service, svc_id)
        for k, val in values.items():
            setattr(svc, k, val)
        db.add(svc)
        db.commit()
        db.refresh(svc)
        return svc


def create_service(platform, data) -> Service:
    """Save a new service and publish the route table, so its subdomain answers "not deployed yet"
    at once (found in a trial: a bare 404 for the first seconds)."""
    with session(platform.engine) as db:
        svc = save_service(db, data)
    sync_soon(platform)
    return svc


def stop(platform, ref) -> Service:
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    with service_lock(platform, svc.id):
        c = live_container(platform, svc)
        # Record the intent first: the status watcher sees the container exit and must read
        # "stopped by a user", not a crash.
        svc = _set(platform, svc.id, status=ServiceStatus.STOPPED.value, status_detail="stopped by a user")
        c.stop(timeout=10)
        sync_edge(platform)
        return svc


def _start_and_check(platform, svc: Service, action) -> Service:
    s = platform.settings
    with service_lock(platform, svc.id):
        c = live_container(platform, svc)
        action(c)
        port = int((c.labels or {}).get("renderlite.port") or svc.container_port or 0)
        plan = ContainerPlan(name=c.name, image="", port=port, network=s.apps_network, labels={})
        try:
            wait_healthy(c, plan, HealthSpec.from_service(svc, s.health_timeout), _NullLog())
        except StartError as e:
            svc = _set(platform, svc.id, status=ServiceStatus.CRASHED.value, status_detail=str(e))
            sync_edge(platform)
            raise
        svc = _set(platform, svc.id, status=ServiceStatus.RUNNING.value, status_detail=None)
        sync_edge(platform)
        return svc


def _rearm(c) -> None:
    """A crash loop that RenderLite stopped set the restart policy to "no"; a user's start re-arms it."""
    c.update(restart_policy={"Name": "unless-stopped", "MaximumRetryCount": 0})


def start(platform, ref) -> Service:
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    return _start_and_check(platform, svc, lambda c: (_rearm(c), c.start()))


def restart(platform, ref) -> Service:
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    return _start_and_check(platform, svc, lambda c: (_rearm(c), c.restart(timeout=10)))


def rename_subdomain(platform, ref, subdomain: str) -> Service:
    with session(platform.engine) as db:
        svc = get_service(db, ref)
        new = v.name(subdomain, "subdomain")
        taken = db.exec(select(Service).where(Service.subdomain == new, Service.id != svc.id)).first()
        if taken:
            raise ValidationError(f"subdomain '{new}' is taken by service '{taken.name}'; pick another")
    svc = _set(platform, svc.id, subdomain=new)
    sync_edge(platform)
    if platform.settings.edge == "traefik" and svc.live_deployment_id and svc.status != ServiceStatus.STOPPED.value:
        # Traefik routes by the labels a container was created with: the new name needs a new
        # container, so the live image is redeployed (zero downtime) under it (found in review)
        from control.deployments import request_deploy
        request_deploy(platform, svc.name, rerun=True)   # by name: a service may be named like another's id
        return svc
    time.sleep(caddy.REFRESH_S + 0.2)   # the edge caches DNS answers this long: on return the old name is gone
    return svc


def delete(platform, ref) -> None:
    """Remove the service's records, then its route, containers and images.

    The records go first, in one transaction: if that fails nothing else was touched; if removing
    a container fails afterwards, the janitor removes it later (no record knows it any more)."""

    from control import deployments as ctl

    with session(platform.engine) as db:
        svc = get_service(db, ref)
        unfinished = [d.id for d in db.exec(select(Deployment).where(
            Deployment.service_id == svc.id, Deployment.status.in_(["QUEUED", "BUILDING"]))).all()]
        dep_ids = [d.id for d in db.exec(select(Deployment).where(Deployment.service_id == svc.id)).all()]
    for dep_id in unfinished:   # a build in progress is stopped first (within a few seconds), not waited for
        with contextlib.suppress(RenderLiteError):
            ctl.cancel(platform, dep_id)
    with service_lock(platform, svc.id, wait=90 if unfinished else 30):
        with session(platform.engine) as db:
            for table in (EnvVar, Deployment):
                db.exec(sql_delete(table).where(table.service_id == svc.id))
            db.exec(sql_delete(Service).where(Service.id == svc.id))
            db.commit()
        sync_edge(platform)
        ctl.forget_progress(platform, dep_ids)
        for row in platform.docker.api.containers(all=True, filters=selector(platform.settings.instance, service=svc.name)):
            with contextlib.suppress(docker.errors.NotFound):
                platform.docker.api.remove_container(row["Id"], force=True)
        repo = image_repo(platform.settings.instance, svc.name)
        for img in platform.docker.images.list(name=repo):
            for tag in (t for t in img.tags if t.startswith(repo + ":")):   # its own names only: an identical
                with contextlib.suppress(docker.errors.APIError):           # build of another service shares the id
                    platform.docker.images.remove(tag)


def update_settings(platform, ref, changes: dict) -> Service:
    """Change a service's settings (used from its next deploy). Unknown names are refused."""
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    return _set(platform, svc.id, **columns(changes))


class _NullLog:
    def line(self, text: str) -> None:
        pass
