"""The route table, recomputed from the source of truth: the database says which deployment
of each service is live, the labels of running containers say where it is."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from edge.labels import PREFIX

log = logging.getLogger("renderlite.edge")


@dataclass(frozen=True)
class RunningApp:
    """A Docker container narrowed to what routing needs."""
    id: str
    service: str
    deployment_id: int
    port: int
    ip: str
    running: bool

    @classmethod
    def from_container(cls, c, network: str) -> "RunningApp | None":
        labels = c.labels or {}
        try:
            nets = c.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
            ip = (nets.get(network) or {}).get("IPAddress") or ""
            return cls(id=c.id, service=labels[f"{PREFIX}.service"],
                       deployment_id=int(labels[f"{PREFIX}.deployment"]), port=int(labels[f"{PREFIX}.port"]),
                       ip=ip, running=c.status == "running")
        except (KeyError, ValueError) as e:
            log.warning("skipping container %s with bad labels: %s", c.name, e)
            return None


@dataclass(frozen=True)
class LiveService:
    name: str
    subdomain: str
    deployment_id: int | None
    status: str


@dataclass(frozen=True)
class Route:
    host: str
    service: str
    upstream: str | None   # None: the service has no running container (edge answers 503)
    deployment_id: int | None


def plan_routes(services: list[LiveService], apps: list[RunningApp], domain: str) -> list[Route]:
    by_key = {(a.service, a.deployment_id): a for a in apps if a.running and a.ip}
    routes = []
    for s in services:
        if s.deployment_id is None:
            continue
        app = by_key.get((s.name, s.deployment_id))
        upstream = f"{app.ip}:{app.port}" if app else None
        routes.append(Route(host=f"{s.subdomain}.{domain}", service=s.name, upstream=upstream,
                            deployment_id=s.deployment_id))
    return sorted(routes, key=lambda r: r.host)
