"""Recompute routes from the database and Docker, and hand them to the edge."""
from __future__ import annotations

import logging
import threading

from sqlmodel import select

from edge import caddy
from edge.labels import selector
from edge.routes import LiveService, RunningApp, plan_routes
from models.db import session
from models.tables import Service

log = logging.getLogger("renderlite.edge")
_lock = threading.Lock()


def gather(platform) -> tuple[list[LiveService], list[RunningApp]]:
    with session(platform.engine) as db:
        services = [LiveService(s.name, s.subdomain, s.live_deployment_id, s.status)
                    for s in db.exec(select(Service)).all()]
    apps = []
    for c in platform.docker.containers.list(all=True, filters=selector(platform.settings.instance)):
        app = RunningApp.from_container(c, platform.settings.apps_network)
        if app:
            apps.append(app)
    return services, apps


def sync(platform) -> list:
    """Rebuild and load the route table. Returns the routes loaded."""
    s = platform.settings
    with _lock:
        services, apps = gather(platform)
        routes = plan_routes(services, apps, s.domain)
        if s.edge == "traefik":  # Traefik reads the same labels from Docker itself
            return routes
        caddy.load(caddy.config(routes, s.edge_port, s.caddy_admin), s.caddy_admin)
        log.info("edge: %d routes loaded", len(routes))
        return routes
