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


def observe(client, container_id: str | None) -> Observed:
    try:
        c = client.containers.get(container_id)
    except (docker.errors.NotFound, docker.errors.NullResource):
        return Observed(False, False, False, None, 0, "")
    st = c.attrs.get("State", {})
    logs = ""
    if not st.get("Running") or st.get("Restarting") or c.attrs.get("RestartCount", 0):
        try:
            logs = c.logs(tail=15).decode("utf-8", "replace").rstrip()
        except docker.errors.APIError:
            pass
    return Observed(True, bool(st.get("Running")) and not st.get("Restarting"), bool(st.get("Restarting")),
                    st.get("ExitCode"), int(c.attrs.get("RestartCount", 0) or 0), logs)


def judge(current: str, seen: Observed) -> tuple[str, str | None]:
    """Pure: the status a service should show, given its live container's observed state."""
    if current in (ServiceStatus.STOPPED.value, ServiceStatus.BUILDING.value):
        return current, None
    if not seen.exists:
        return ServiceStatus.CRASHED.value, "the live container was removed outside RenderLite; deploy again"
    if seen.running:
        return ServiceStatus.RUNNING.value, None
    out = f" Last output:\n{seen.logs}" if seen.logs else ""
    if seen.restarting or seen.restarts:
        return (ServiceStatus.CRASHED.value,
                f"the app keeps exiting (code {seen.exit_code}, restarted {seen.restarts} times).{out}")
    return ServiceStatus.CRASHED.value, f"the app stopped (exit code {seen.exit_code}).{out}"


def reconcile(platform) -> list[str]:
    """Update statuses; stop crash-looping containers. Returns the names of services that changed."""
    changed = []
    with session(platform.engine) as db:
        services = db.exec(select(Service).where(Service.live_deployment_id.is_not(None))).all()
        for svc in services:
            dep = db.get(Deployment, svc.live_deployment_id)
            seen = observe(platform.docker, dep.container_id if dep else None)
            if seen.restarts >= MAX_RESTARTS and (seen.restarting or not seen.running):
                _give_up(platform.docker, dep.container_id)
            status, detail = judge(svc.status, seen)
            if (status, detail) != (svc.status, svc.status_detail) and svc.status != ServiceStatus.BUILDING.value:
                if svc.status != status:
                    log.info("service %s: %s -> %s", svc.name, svc.status, status)
                    changed.append(svc.name)
                svc.status, svc.status_detail = status, detail
                db.add(svc)
        db.commit()
    return changed


def _give_up(client, container_id: str) -> None:
    try:
        c = client.containers.get(container_id)
        c.update(restart_policy={"Name": "no", "MaximumRetryCount": 0})
        c.stop(timeout=5)
    except docker.errors.APIError:
        pass
