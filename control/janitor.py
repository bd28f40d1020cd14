"""Clean-up and crash recovery: RenderLite never loses track of what it started.

``sweep()`` runs when a worker starts and every few seconds in the edge watcher:
- deployments left BUILDING by a dead worker are marked FAILED (control.deployments), and queued
  ones whose message Redis lost (a restart) are sent again;
- containers carrying this installation's labels that no deployment explains are removed: an
  unknown deployment (a deleted service, a wiped database), a failed one, or a replaced one whose
  drain is long over (its retire thread died with its worker);
- images of services that no longer exist, and temporary build folders of finished deployments.

The decision is ``plan()``, pure; ``sweep()`` gathers the facts and carries it out.
"""
from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import docker.errors
from sqlmodel import select

from control.deployments import recover_interrupted, requeue_lost
from edge import caddy
from edge.labels import PREFIX, image_repo, selector
from models.db import session
from models.tables import Deployment, DeploymentStatus as DS, Service, as_utc

log = logging.getLogger("renderlite.janitor")
GRACE_S = 60            # beyond the drain: a replaced container still present after this is stale


def tmp_prefix(instance: str, service: str, deployment_id: int) -> str:
    """The name a deployment's temporary build folder starts with (dots cannot occur in names)."""
    return f"rl-{instance}.{service}.{deployment_id}."


def _tmp_deployment(instance: str, name: str) -> int | None:
    m = re.match(rf"^rl-{re.escape(instance)}\.[a-z0-9-]+\.(\d+)\.", name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Seen:
    """A container of this installation, narrowed from Docker's list."""
    id: str
    name: str
    service: str
    deployment_id: int | None


@dataclass(frozen=True)
class Facts:
    containers: list[Seen]
    live: dict[str, tuple[int, datetime | None]]   # service -> (live deployment, when it went live)
    running: set[int]                   # QUEUED or BUILDING deployment ids
    known: set[int]                     # every deployment id in the database
    services: set[str]
    images: list[str]                   # tags in this installation's image repositories
    tmp_dirs: list[Path]
    now: datetime
    drain_s: float
    instance: str = "default"


@dataclass
class Plan:
    containers: list[Seen] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    tmp_dirs: list[Path] = field(default_factory=list)


def plan(f: Facts) -> Plan:
    """Pure: what to remove, given what exists and what the database knows."""
    out = Plan()
    live_ids = {dep for dep, _ in f.live.values()}
    for c in f.containers:
        dep = c.deployment_id
        if dep is None or dep not in f.known:
            out.containers.append(c)                       # no record explains it
        elif dep in live_ids or dep in f.running:
            continue
        else:                                              # failed, or replaced: stale once the drain is over
            switched = f.live.get(c.service, (None, None))[1]
            if switched is None or f.now - switched > timedelta(seconds=f.drain_s + GRACE_S):
                out.containers.append(c)
    for tag in f.images:
        service = tag.rsplit("/", 1)[-1].split(":")[0]
        if service not in f.services:
            out.images.append(tag)
    for d in f.tmp_dirs:
        dep = _tmp_deployment(f.instance, d.name)
        if dep is not None and dep not in f.running:
            out.tmp_dirs.append(d)
    return out


def gather(platform) -> Facts:
    s = platform.settings
    # Docker first, then the database: a container listed here was created after its deployment
    # row, so the row is visible below (never mistaken for an unknown one).
    rows = platform.docker.api.containers(all=True, filters=selector(s.instance))
    containers = []
    for r in rows:
        raw = (r.get("Labels") or {}).get(f"{PREFIX}.deployment", "")
        containers.append(Seen(r["Id"], (r.get("Names") or ["?"])[0].lstrip("/"),
                               (r.get("Labels") or {}).get(f"{PREFIX}.service", ""), int(raw) if raw.isdigit() else None))
    prefix = image_repo(s.instance, "")
    images = [t for img in platform.docker.api.images(filters={"reference": prefix + "*"})
              for t in (img.get("RepoTags") or []) if t.startswith(prefix)]
    with session(platform.engine) as db:
        services = db.exec(select(Service)).all()
        deps = db.exec(select(Deployment.id, Deployment.status, Deployment.finished_at)).all()
    finished = {i: t for i, _, t in deps}
    now = datetime.now(timezone.utc)
    # A live deployment not finished yet has just been switched to: its predecessor is draining.
    live = {svc.name: (svc.live_deployment_id, as_utc(finished.get(svc.live_deployment_id)) or now)
            for svc in services if svc.live_deployment_id}
    tmp = [p for p in Path(tempfile.gettempdir()).glob(f"rl-{s.instance}.*") if p.is_dir()]
    return Facts(containers=containers, live=live, running={i for i, st, _ in deps if st in (DS.QUEUED.value, DS.BUILDING.value)},
                 known=set(finished), services={svc.name for svc in services}, images=images, tmp_dirs=tmp,
                 now=now, drain_s=caddy.REFRESH_S + 0.5 + s.drain_seconds, instance=s.instance)


@dataclass
class Report:
    interrupted: list[int]
    requeued: list[int]
    containers: list[str]
    images: list[str]
    tmp_dirs: list[str]


def sweep(platform) -> Report:
    interrupted = recover_interrupted(platform)
    requeued = requeue_lost(platform)
    todo = plan(gather(platform))
    for c in todo.containers:
        log.warning("removing container %s: no live or running deployment explains it", c.name)
        with contextlib.suppress(docker.errors.NotFound):
            platform.docker.api.remove_container(c.id, force=True)
    for tag in todo.images:
        log.info("removing image %s: its service no longer exists", tag)
        with contextlib.suppress(docker.errors.APIError):
            platform.docker.images.remove(tag)
    for d in todo.tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    return Report(interrupted, requeued, [c.name for c in todo.containers], todo.images, [d.name for d in todo.tmp_dirs])
