"""Health checks of running apps, run by the edge watcher.

Each running service's live container is probed from outside (jobs/health.py: HTTP on its health
path, or TCP) every ``interval`` seconds, with the check its deployment was made with (a settings
change applies from the next deploy, like every other setting). ``retries`` failures in a row make the service
*unhealthy*: the status shows the last probe results, and RenderLite restarts the container once
(then waits the start period before probing again). The first pass makes it *running* again.
``step()`` is the whole decision, pure; ``Monitor`` probes and acts.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

import docker.errors
from sqlmodel import select

from edge import table
from jobs.health import HealthSpec, probe, spec_from_json
from models.db import session
from models.tables import Deployment, Service, ServiceStatus

log = logging.getLogger("renderlite.health")
WATCHED = (ServiceStatus.RUNNING.value, ServiceStatus.UNHEALTHY.value)


@dataclass(frozen=True)
class Track:
    deployment_id: int
    failures: int = 0
    results: tuple[str, ...] = ()     # the last few failed probes, newest last
    next_at: float = 0.0
    restarted: bool = False


@dataclass(frozen=True)
class Verdict:
    track: Track
    unhealthy: str | None             # the status detail while unhealthy, None when healthy
    restart: bool = False


def step(t: Track, result: str | None, spec: HealthSpec, now: float) -> Verdict:
    """Pure: fold one probe result (None = passed) into the service's track."""
    if result is None:
        return Verdict(Track(t.deployment_id, next_at=now + spec.interval), None)
    results = (t.results + (result,))[-3:]
    t = replace(t, failures=t.failures + 1, results=results, next_at=now + spec.interval)
    if t.failures < spec.retries:
        return Verdict(t, None)
    detail = f"failed its health check {t.failures} times in a row ({'; '.join(results)})"
    if t.restarted:
        return Verdict(t, detail + "; restarting it did not help: read its logs, fix it and deploy again")
    # Restart once per streak, then give the app its start period before judging it again.
    return Verdict(replace(t, restarted=True, next_at=now + spec.start_period), detail + "; RenderLite restarted it",
                   restart=True)


def keeps_while_restarting(t: Track | None, live_deployment_id: int, now: float) -> bool:
    """Pure: keep a service's track (and its unhealthy verdict) while its container is not
    routable, if that is because this monitor restarted it: until its start period is over.
    Dropping it then would make the status read "crashed" and then "running", never "unhealthy"."""
    return t is not None and t.deployment_id == live_deployment_id and t.restarted and now < t.next_at


@dataclass
class Monitor:
    platform: object
    on_change: callable = lambda: None          # wakes the status reconciler
    tracks: dict[str, Track] = field(default_factory=dict)
    unhealthy: dict[str, str] = field(default_factory=dict)   # service name -> status detail

    def run_once(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        p, s = self.platform, self.platform.settings
        with session(p.engine) as db:
            services = db.exec(select(Service).where(Service.status.in_(WATCHED),
                                                     Service.live_deployment_id.is_not(None))).all()
            specs = {d.id: spec_from_json(d.health) for d in db.exec(select(Deployment).where(
                Deployment.id.in_([svc.live_deployment_id for svc in services]))).all()} if services else {}
        try:
            routes = {r.service: r for r in table.read(s.routes_file)}
        except (OSError, ValueError, KeyError):
            return
        seen = set()
        for svc in services:
            route = routes.get(svc.name)
            t = self.tracks.get(svc.name)
            if route is None or route.deployment_id != svc.live_deployment_id or not route.upstream:
                if keeps_while_restarting(t, svc.live_deployment_id, now):
                    seen.add(svc.name)   # the container is down because this monitor restarts it
                continue
            seen.add(svc.name)
            spec = specs.get(svc.live_deployment_id) or HealthSpec.from_service(svc, s.health_timeout)
            if t is None or t.deployment_id != svc.live_deployment_id:   # a new deployment: just passed its check
                t = Track(svc.live_deployment_id, next_at=now + spec.interval)
            if now < t.next_at:
                self.tracks[svc.name] = t
                continue
            v = step(t, probe(route.ip, route.port, spec), spec, now)
            self.tracks[svc.name] = v.track
            self._apply(svc, v)
        for gone in set(self.tracks) - seen:
            self.tracks.pop(gone, None)
            if self.unhealthy.pop(gone, None) is not None:
                self.on_change()

    def _apply(self, svc, v: Verdict) -> None:
        before = self.unhealthy.get(svc.name)
        if v.unhealthy:
            self.unhealthy[svc.name] = v.unhealthy
        else:
            self.unhealthy.pop(svc.name, None)
        if v.restart:
            log.warning("service %s is unhealthy (%s); restarting its container", svc.name, v.unhealthy)
            self._restart(svc.live_deployment_id)
        if before != self.unhealthy.get(svc.name):
            self.on_change()

    def _restart(self, deployment_id: int) -> None:
        with session(self.platform.engine) as db:
            dep = db.get(Deployment, deployment_id)
        try:
            self.platform.docker.containers.get(dep.container_id).restart(timeout=10)
        except (docker.errors.APIError, AttributeError) as e:
            log.warning("could not restart the container of deployment %s: %s", deployment_id, e)

    def loop(self, stop: threading.Event, tick: float = 0.5) -> None:
        while not stop.wait(tick):
            try:
                self.run_once()
            except Exception as e:  # noqa: BLE001 - one bad pass never stops the monitor
                log.warning("health monitor pass failed: %s", e)
