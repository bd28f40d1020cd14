"""Recompute routes from the database and Docker, and publish them to the edge."""
from __future__ import annotations

import contextlib
import dataclasses
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


def sync_soon(platform) -> bool:
    """Publish the route table now; if that fails, say so in the log and return False: the edge
    watcher rebuilds it from the database within seconds. For callers whose own work must not fail
    because the edge could not be told at once."""
    try:
        sync(platform)
        return True
    except Exception:  # noqa: BLE001
        log.warning("publishing the route table failed; the edge watcher will", exc_info=True)
        return False


@contextlib.contextmanager
def switching(platform, service: str, deployment_id: int):
    """Publish the routes with ``service`` already switched to ``deployment_id``, then let the
    caller commit that switch to the database, all under the edge lock. So the edge routes to the
    new version before anyone can read that it is live (a client that sees SUCCESS and requests
    at once must not get the "being deployed" page). Yields True if the table was published: if
    it could not be, the caller publishes after its commit (or the edge watcher does).

    If the caller raises (the switch was refused: cancelled meanwhile), the table is rebuilt from
    the database again before the lock is released, so the old version is routed as before."""
    s = platform.settings
    with _lock, table.locked(s.data_dir / "edge.lock"):
        try:
            services, apps = gather(platform)
            planned = [dataclasses.replace(x, deployment_id=deployment_id, status="running") if x.name == service else x
                       for x in services]
            table.publish(s.routes_file, plan_routes(planned, apps), plan_targets(apps))
            published = True
        except Exception:  # noqa: BLE001 - the switch itself must not depend on the edge
            log.exception("edge: publishing the switch of %s to deployment %s failed", service, deployment_id)
            published = False
        try:
            yield published
        except BaseException:
            with contextlib.suppress(Exception):
                services, apps = gather(platform)
                table.publish(s.routes_file, plan_routes(services, apps), plan_targets(apps))
            raise
