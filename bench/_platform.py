"""A throwaway RenderLite instance for benchmarks: its own ports, data folder, Redis db, SQLite
database and container labels; local base images for zero-config builds; a local git server."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import redis  # noqa: E402

from jobs.base_images import OVERRIDES, ensure_all, override_env  # noqa: E402
from cli.client import Api  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402


@dataclass
class Bench:
    settings: Settings
    api: Api
    git: GitServer
    docker: docker.DockerClient


@contextlib.contextmanager
def platform(instance: str = "bench"):
    tmp = Path(tempfile.mkdtemp(prefix="rl-bench-"))
    env = dict(os.environ, RENDERLITE_DATA_DIR=str(tmp / "data"), RENDERLITE_INSTANCE=instance,
               RENDERLITE_EDGE_PORT="28081", RENDERLITE_WEB_PORT="23001", RENDERLITE_CADDY_ADMIN="127.0.0.1:22020",
               RENDERLITE_EDGE_AGENT="127.0.0.1:28053", REDIS_URL="redis://127.0.0.1:6379/13",
               RENDERLITE_DRAIN_SECONDS="0", **override_env(OVERRIDES))
    env.pop("DATABASE_URL", None)
    settings = Settings.from_env(env)
    client = docker.from_env(timeout=600)
    ensure_all(client)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()   # locks and logs of an earlier run
    git = GitServer(tmp / "git", 29419).start()
    try:
        subprocess.run([sys.executable, "-m", "cli", "up", "--detach"], cwd=ROOT, env=env, check=True)
        api = Api(settings)
        api.post("/api/projects", {"name": "bench"})
        yield Bench(settings, api, git, client)
    finally:
        subprocess.run([sys.executable, "-m", "cli", "down"], cwd=ROOT, env=env)
        for c in client.containers.list(all=True, filters={"label": [f"renderlite.instance={instance}"]}):
            c.remove(force=True)
        git.stop()
        shutil.rmtree(tmp, ignore_errors=True)
