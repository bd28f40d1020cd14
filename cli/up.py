"""`up`: prepare the platform (migrations, admin token, Caddy's config, local base images when no
registry answers), start the supervisor (cli/supervisor.py) and wait until the dashboard answers;
`down` stops the supervisor and everything it runs.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli.supervisor import PY, exits, pidfile, stop_groups
from core.settings import ROOT, Settings

log = logging.getLogger("renderlite.up")


def child_env(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    tools = ROOT / ".tools" / "node_modules" / ".bin"
    env["PATH"] = f"{tools}:{Path(PY).parent}:{env.get('PATH', '')}"
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env["RENDERLITE_DATA_DIR"] = str(s.data_dir)
    return env


def wait_for(url: str, seconds: int, what: str, failed) -> None:
    """Until ``url`` answers below 500; ``failed()`` returns a reason to give up early, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        reason = failed()
        if reason:
            raise SystemExit(reason)
        time.sleep(1)
    raise SystemExit(f"{what} did not answer at {url} within {seconds} s; see the logs under the data folder")


def _exited(s: Settings, sup: subprocess.Popen, since: int, names: tuple[str, ...]):
    """A ``failed`` check: the supervisor died, or one of ``names`` exited (supervisor.log says so)."""
    logs = s.data_dir / "logs"

    def check() -> str | None:
        if sup.poll() is not None:
            return f"the supervisor exited with code {sup.returncode}; see {logs / 'supervisor.log'}"
        try:
            text = (logs / "supervisor.log").read_bytes()[since:].decode(errors="replace")
        except OSError:
            return None
        for name, line in exits(text):
            if name in names:
                return f"{line}; see {logs / (name + '.log')} for the reason"
        return None
    return check


def up(s: Settings, detach: bool = False) -> int:
    from control.auth import ensure_token
    from edge import caddy
    from models.db import migrate

    logs = s.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    os.chmod(s.data_dir, 0o700)   # the database, key, token and logs: for this installation's user only
    if pidfile(s).exists():
        down(s, quiet=True)
    migrate(s)
    token = ensure_token(s)
    (s.data_dir / "caddy-initial.json").write_text(json.dumps(caddy.config(s)))
    env = child_env(s)
    local_bases = local_base_images(s, env)
    sup_log = logs / "supervisor.log"
    since = sup_log.stat().st_size if sup_log.exists() else 0
    with open(sup_log, "ab") as out:
        sup = subprocess.Popen([PY, "-m", "cli", "supervise"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(f"http://{s.caddy_admin}/config/", 30, "Caddy", _exited(s, sup, since, ("caddy",)))
        print("waiting for the dashboard (the first run builds its front end: a few minutes)...", flush=True)
        wait_for(f"{s.web_url}/api/health", 900, "the dashboard", _exited(s, sup, since, ("web",)))
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
        sup.wait()
        print(f"the supervisor stopped; see {sup_log}", file=sys.stderr)
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

    from jobs.base_images import OVERRIDES, ensure_all, override_env

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
    children = list((pids.get("children") or {}).values()) if "supervisor" in pids else list(pids.values())
    sup = pids.get("supervisor")
    if sup:   # the supervisor stops its children itself; then nothing may be left
        stop_groups([sup], grace=20)
    stop_groups(children, grace=10)
    pidfile(s).unlink(missing_ok=True)
    if not quiet:
        print("RenderLite stopped (apps keep running; their routes return with the next `up`)")
    return 0
