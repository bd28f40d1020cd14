"""Recompute routes from the database and Docker, and publish them to the edge."""
from __future__ import annotations

import logging
import threading

from sqlmodel import select

from edge import table
from edge.labels import selector
from edge.routes import LiveService, Route, RunningApp, plan_routes, plan_targets
from models.db import session
from models.tables import Service

log = logging.getLogger("renderlite.edge")
_lock = threading.Lock()


def gather(platform) -> tuple[list[LiveService], list[RunningApp]]:
    with session(platform.engine) as db:
        services = [LiveService(s.name, s.subdomain, s.live_deployment_id, s.status)
                    for s in db.exec(select(Service)).all()]
    listing = platform.docker.api.containers(all=True, filters=selector(platform.settings.instance))
    apps = [a for a in (RunningApp.from_listing(row, platform.settings.apps_network) for row in listing) if a]
    return services, apps


def sync(platform) -> list[Route]:
    """Rebuild the route table and publish it (the edge agent serves it to Caddy).

    Read and write happen under one cross-process lock, so the table on disk always reflects
    a database state at least as new as any earlier writer saw."""
    s = platform.settings
    with _lock, table.locked(s.data_dir / "edge.lock"):
        services, apps = gather(platform)
        routes = plan_routes(services, apps)
        if table.publish(s.routes_file, routes, plan_targets(apps)):
            log.info("edge: %d routes published", len(routes))
        return routes
