"""The route table, recomputed from the source of truth: the database says which deployment
of each service is live (and its state), the labels of running containers say where it runs.

The table is plain data: it is published to a file (``edge/table.py``) that the edge agent
serves to Caddy over DNS, and rendered into the 503 pages of services that are not running.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from edge.labels import PREFIX, ROLE

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
    def from_listing(cls, row: dict, network: str) -> "RunningApp | None":
        """From one entry of Docker's container list (GET /containers/json): no inspect, so a
        container removed meanwhile can never make the listing fail."""
        labels = row.get("Labels") or {}
        if labels.get(ROLE) == "release":   # a release command's one-off container: never routed
            return None
        try:
            nets = (row.get("NetworkSettings") or {}).get("Networks") or {}
            ip = (nets.get(network) or {}).get("IPAddress") or ""
            return cls(id=row["Id"], service=labels[f"{PREFIX}.service"],
                       deployment_id=int(labels[f"{PREFIX}.deployment"]), port=int(labels[f"{PREFIX}.port"]),
                       ip=ip, running=row.get("State") == "running")
        except (KeyError, ValueError) as e:
            log.warning("skipping container %s with bad labels: %s", (row.get("Names") or ["?"])[0], e)
            return None


@dataclass(frozen=True)
class LiveService:
    """A service row narrowed to what routing needs."""
    name: str
    subdomain: str
    deployment_id: int | None
    status: str


@dataclass(frozen=True)
class Route:
    subdomain: str
    service: str
    state: str                 # the service's status: running, stopped, crashed, building, created, failed
    deployment_id: int | None  # the live deployment (None: never deployed)
    ip: str | None = None      # None: no running container of the live deployment (the edge answers 503)
    port: int | None = None

    @property
    def upstream(self) -> str | None:
        return f"{self.ip}:{self.port}" if self.ip and self.port else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Route":
        return cls(**{k: d.get(k) for k in ("subdomain", "service", "state", "deployment_id", "ip", "port")})


def plan_targets(apps: list[RunningApp]) -> dict[int, str]:
    """Pure: the address of every running deployment, live or draining. The edge may still hold a
    cached answer naming the old deployment for a moment after a switch; its name must keep
    resolving until its container stops, or a new connection to it fails (503) meanwhile."""
    return {a.deployment_id: a.ip for a in apps if a.running and a.ip}


def plan_routes(services: list[LiveService], apps: list[RunningApp]) -> list[Route]:
    """Pure: one route per service, sorted by subdomain. A service is reachable only through
    the container of its live deployment, and only while that container runs."""
    by_key = {(a.service, a.deployment_id): a for a in apps if a.running and a.ip}
    routes = []
    for s in services:
        app = by_key.get((s.name, s.deployment_id)) if s.deployment_id is not None else None
        routes.append(Route(subdomain=s.subdomain, service=s.name, state=s.status, deployment_id=s.deployment_id,
                            ip=app.ip if app else None, port=app.port if app else None))
    return sorted(routes, key=lambda r: r.subdomain)
