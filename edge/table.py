"""The published route table: one JSON file in the data folder, replaced atomically.

Whoever recomputes the routes (the worker at a switch, a lifecycle action, the edge watcher)
writes it under a cross-process lock, so a slower writer holding an older view never replaces a
newer one. The edge agent rereads it whenever the file changes, and keeps serving the last good
table if a write is ever unreadable.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import Mapping

from edge.routes import Route

log = logging.getLogger("renderlite.edge")


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock shared by every process of this installation (flock on ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def publish(path: Path, routes: list[Route], targets: Mapping[int, str] | None = None) -> bool:
    """Write the table (routes, and the address of every running deployment) if it changed.
    Returns True when the file was replaced."""
    text = json.dumps({"routes": [r.to_dict() for r in routes],
                       "targets": {str(k): v for k, v in sorted((targets or {}).items())}}, sort_keys=True, indent=1)
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def read(path: Path) -> list[Route]:
    return read_all(path)[0]


def read_all(path: Path) -> tuple[list[Route], dict[int, str]]:
    data = json.loads(path.read_text())
    targets = data.get("targets")
    return ([Route.from_dict(d) for d in data["routes"]],
            {int(k): v for k, v in (targets.items() if isinstance(targets, dict) else []) if isinstance(v, str) and v})


class Table:
    """The table as the agent sees it: reread when the file changes, last good copy kept."""

    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple | None = None
        self._routes: dict[str, Route] = {}
        self._targets: dict[int, str] = {}
        self._lock = threading.Lock()

    def routes(self) -> dict[str, Route]:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            return self._routes
        with self._lock:
            if stamp != self._stamp:
                try:
                    routes, self._targets = read_all(self.path)
                    self._routes = {r.subdomain: r for r in routes}
                    self._stamp = stamp
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                    log.warning("route table %s unreadable (%s); keeping the last good one", self.path, e)
            return self._routes

    def targets(self) -> dict[int, str]:
        """Deployment id -> address of every running deployment (read with the routes)."""
        self.routes()
        return self._targets
