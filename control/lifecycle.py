"""Service lifecycle: stop, start, restart, delete, rename the subdomain, update settings.

Each action holds the service's deploy lock, so it never interleaves with a deployment, and
ends by recomputing the edge's routes from the database and Docker.
"""
from __future__ import annotations

import contextlib
import time

import docker.errors
import redis
from sqlmodel import delete as sql_delete, select

from control.projects import get_service
from core.errors import NotFound, RenderLiteError, ValidationError
from edge import caddy
from edge.labels import selector
from edge.sync import sync as sync_edge
from jobs.health import HealthSpec
from jobs.run import ContainerPlan, StartError, wait_healthy
from models import validation as v
from models.db import session
from models.tables import Deployment, Service, ServiceStatus


class Busy(RenderLiteError):
    pass


@contextlib.contextmanager
def service_lock(platform, service_id: int, wait: float = 30):
    s = platform.settings
    lock = platform.redis.lock(f"{s.redis_prefix}lock:service:{service_id}",
                               timeout=s.build_timeout + s.clone_timeout + 600, blocking_timeout=wait)
    if not lock.acquire():
        raise Busy("a deployment of this service is running; try again when it has finished")
    try:
        yield
    finally:
        with contextlib.suppress(redis.exceptions.LockError):
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
    time.sleep(caddy.REFRESH_S + 0.2)   # the edge caches DNS answers this long: on return the old name is gone
    return svc


def delete(platform, ref) -> None:
    """Remove the service's containers, images, routes and records."""
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    with service_lock(platform, svc.id):
        for c in platform.docker.containers.list(all=True, filters=selector(platform.settings.instance, service=svc.name)):
            c.remove(force=True)
        from jobs.pipeline import image_repo
        for img in platform.docker.images.list(name=image_repo(platform.settings.instance, svc.name)):
            with contextlib.suppress(docker.errors.APIError):
                platform.docker.images.remove(img.id, force=True)
        with session(platform.engine) as db:
            db.exec(sql_delete(Deployment).where(Deployment.service_id == svc.id))
            db.exec(sql_delete(Service).where(Service.id == svc.id))
            db.commit()
        sync_edge(platform)


HEALTH_FIELDS = {"health_type": str, "health_path": str, "health_interval": float, "health_timeout": float,
                 "health_start_period": float, "health_retries": int}


def update_settings(platform, ref, changes: dict) -> Service:
    """Change health-check settings, branch, root dir, Dockerfile path or port (used by the next deploy)."""
    with session(platform.engine) as db:
        svc = get_service(db, ref)
    values = {}
    for key, raw in changes.items():
        if key in HEALTH_FIELDS:
            try:
                val = HEALTH_FIELDS[key](raw) if raw not in (None, "") else None
            except (TypeError, ValueError):
                raise ValidationError(f"{key}={raw!r} is not a {HEALTH_FIELDS[key].__name__}") from None
            if key == "health_type" and val not in ("http", "tcp"):
                raise ValidationError("health_type must be 'http' or 'tcp'")
            if key == "health_path" and val and not val.startswith("/"):
                raise ValidationError(f"health_path {val!r} must start with '/', e.g. /healthz")
            if isinstance(val, (int, float)) and not isinstance(val, bool) and val <= 0:
                raise ValidationError(f"{key} must be greater than 0")
            values[key] = val if val is not None else ("" if key == "health_path" else None)
        elif key == "branch":
            values["branch"] = v.branch(raw)
        elif key == "root_dir":
            values["root_dir"] = v.relative_path(raw, "root directory")
        elif key == "dockerfile_path":
            values["dockerfile_path"] = v.relative_path(raw, "Dockerfile path") or "Dockerfile"
        elif key == "port":
            values["container_port"] = v.port(raw)
        elif key == "repo_url":
            values["repo_url"] = v.repo_url(raw)
        else:
            raise ValidationError(f"unknown setting {key!r}")
    values = {k: val for k, val in values.items() if not (val is None and k in ("health_type", "health_interval",
                                                                                "health_timeout", "health_retries"))}
    return _set(platform, svc.id, **values)


class _NullLog:
    def line(self, text: str) -> None:
        pass
