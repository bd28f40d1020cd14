"""`up`: start Caddy, the worker, the edge watcher and the dashboard; `down` stops them.

Each child runs in its own process group with its output in <data>/logs/<name>.log.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import ROOT, Settings

PY = sys.executable
log = logging.getLogger("renderlite.up")


def child_env(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    tools = ROOT / ".tools" / "node_modules" / ".bin"
    env["PATH"] = f"{tools}:{Path(PY).parent}:{env.get('PATH', '')}"
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["RENDERLITE_DATA_DIR"] = str(s.data_dir)
    return env


def commands(s: Settings) -> dict[str, list[str]]:
    caddy_cfg = s.data_dir / "caddy-initial.json"
    return {
        "caddy": ["caddy", "run", "--config", str(caddy_cfg)],
        "worker": [PY, "-m", "jobs.worker"],
        "edge": [PY, "-m", "cli", "edge-watch"],
        "web": [str(Path(PY).parent / "reflex"), "run", "--env", "prod", "--loglevel", "warning"],
    }


def pidfile(s: Settings) -> Path:
    return s.data_dir / "pids.json"


def wait_for(url: str, seconds: int, what: str, procs: dict | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        for name, p in (procs or {}).items():
            if p.poll() is not None:
                raise SystemExit(f"{name} exited with code {p.returncode}; see its log for the reason")
        time.sleep(1)
    raise SystemExit(f"{what} did not answer at {url} within {seconds} s; see the logs under the data folder")


def up(s: Settings, detach: bool = False) -> int:
    from control.auth import ensure_token
    from edge import caddy
    from models.db import migrate

    logs = s.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if pidfile(s).exists():
        down(s, quiet=True)
    migrate(s)
    token = ensure_token(s)
    (s.data_dir / "caddy-initial.json").write_text(json.dumps(caddy.config(s)))
    env = child_env(s)
    local_bases = local_base_images(s, env)
    procs: dict[str, subprocess.Popen] = {}
    for name, argv in commands(s).items():
        out = open(logs / f"{name}.log", "ab")
        procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
    pidfile(s).write_text(json.dumps({n: p.pid for n, p in procs.items()}))
    try:
        wait_for(f"http://{s.caddy_admin}/config/", 30, "Caddy", procs)
        print("building the dashboard (the first run installs its front-end packages; a few minutes)...", flush=True)
        wait_for(f"{s.web_url}/api/health", 900, "the dashboard", procs)
        if local_bases is not None:
            local_bases.join()
    except SystemExit:
        down(s, quiet=True)
        raise
    print(f"RenderLite is up.\n  dashboard: {s.web_url}\n  admin token: {token}\n"
          f"  apps answer at {s.service_url('<service>')}\n  logs: {logs}", flush=True)
    if detach:
        return 0
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        print(f"{', '.join(dead)} stopped; shutting down (see {logs})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        down(s, quiet=True)


def registry_reachable(timeout: float = 3.0) -> bool:
    """Can this machine reach Docker Hub? (any HTTP answer counts: 401 is the usual one)"""
    try:
        httpx.get("https://registry-1.docker.io/v2/", timeout=timeout)
        return True
    except httpx.HTTPError:
        return False


def local_base_images(s: Settings, env: dict[str, str]):
    """Without a registry, zero-config builds start from local base images: point the
    RENDERLITE_BASE_IMAGE_* variables the user left unset at them, and build them in the
    background (a thread ``up`` joins before it reports the platform up). None if not needed."""
    import threading

    from cli.base_images import OVERRIDES, ensure_all, override_env

    missing = {k: v for k, v in override_env(OVERRIDES).items() if k not in env}
    if not missing or registry_reachable():
        return None
    env.update(missing)
    print("Docker Hub is unreachable: zero-config builds will use local base images "
          f"({', '.join(sorted(set(missing.values())))}); building any that are missing...", flush=True)

    def work():
        import docker

        try:
            ensure_all(docker.from_env(timeout=900), log=lambda m: log.info("%s", m))
        except Exception as e:  # noqa: BLE001 - the platform still runs; deploys will say what is missing
            print(f"warning: building the local base images failed ({e}); run `./renderlite admin base-images`",
                  file=sys.stderr, flush=True)

    t = threading.Thread(target=work, name="base-images", daemon=True)
    t.start()
    return t


def down(s: Settings, quiet: bool = False) -> int:
    try:
        pids = json.loads(pidfile(s).read_text())
    except (OSError, ValueError):
        if not quiet:
            print("RenderLite is not running (no pid file)")
        return 0
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = False
        for name, pid in pids.items():
            try:
                os.killpg(pid, sig)
                alive = True
            except (ProcessLookupError, PermissionError):
                pass
        if not alive:
            break
        deadline = time.monotonic() + 10
        while sig == signal.SIGTERM and time.monotonic() < deadline and any(_alive(p) for p in pids.values()):
            time.sleep(0.2)
    pidfile(s).unlink(missing_ok=True)
    if not quiet:
        print("RenderLite stopped (apps keep running; their routes return with the next `up`)")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def edge_watch(s: Settings) -> int:
    """The edge agent (DNS + status pages for Caddy), and keeping statuses and the route table
    equal to what runs: at start, on Docker events, and every 5 s."""
    import threading

    from control.status import reconcile
    from core.wiring import build
    from edge import caddy
    from edge.agent import EdgeAgent
    from edge.labels import selector
    from edge.sync import sync
    from edge.table import Table

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    platform = build(s)
    EdgeAgent(Table(s.routes_file), s.instance, s.domain, s.edge_agent).start()
    wake = threading.Event()

    def events():
        while True:
            try:
                for _ in platform.docker.events(decode=True, filters={"type": "container", **selector(s.instance)}):
                    wake.set()
            except Exception as e:  # docker restarted: reconnect
                log.warning("docker events stream ended: %s", e)
                time.sleep(2)

    threading.Thread(target=events, daemon=True).start()
    while True:
        try:
            reconcile(platform)
            sync(platform)
            if s.edge == "caddy":
                caddy.ensure(caddy.config(s), s.caddy_admin)   # Caddy may have restarted
        except Exception as e:
            log.warning("edge sync failed (will retry): %s", e)
            wake.wait(2)
            wake.clear()
            continue
        wake.wait(5)
        wake.clear()
        time.sleep(0.2)   # a burst of Docker events makes one pass, not many
