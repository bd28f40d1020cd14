"""Fixtures: real PostgreSQL, Redis, Docker, Caddy and a git server; the platform started by `up`.

The test instance uses its own ports, database, Redis db and container labels, so it never
touches a RenderLite you are running on the same machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from jobs.base_images import OVERRIDES, override_env  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402

PG_ADMIN = os.environ.get("RENDERLITE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_DB = "renderlite_test"


def reset_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


@pytest.fixture(scope="session")
def test_env(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("renderlite-data")
    env = dict(os.environ)
    env.update({
        "RENDERLITE_DATA_DIR": str(data),
        "DATABASE_URL": reset_postgres(),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "RENDERLITE_INSTANCE": "test",
        "RENDERLITE_EDGE_PORT": "18080",
        "RENDERLITE_WEB_PORT": "13000",
        "RENDERLITE_CADDY_ADMIN": "127.0.0.1:12019",
        "RENDERLITE_EDGE_AGENT": "127.0.0.1:18053",
        "RENDERLITE_HEALTH_TIMEOUT": "20",
        "RENDERLITE_DRAIN_SECONDS": "1",
        **override_env(OVERRIDES),   # zero-config builds start from the local base images
    })
    return env


@pytest.fixture(scope="session")
def settings(test_env) -> Settings:
    return Settings.from_env(test_env)


@pytest.fixture(scope="session")
def docker_client():
    import docker

    return docker.from_env(timeout=600)


@pytest.fixture(scope="session")
def base_images(docker_client):
    from jobs.base_images import ensure_all

    return ensure_all(docker_client)


@pytest.fixture(scope="session")
def git_server(tmp_path_factory):
    srv = GitServer(tmp_path_factory.mktemp("git"), 19418).start()
    yield srv
    srv.stop()


def remove_test_containers(client) -> None:
    """Containers and images a previous test run left (the test database starts empty each run)."""
    import docker.errors

    for c in client.containers.list(all=True, filters={"label": ["renderlite.instance=test"]}):
        c.remove(force=True)
    for img in client.images.list(filters={"reference": "renderlite-test/*"}):
        try:
            client.images.remove(img.id, force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture(scope="session")
def platform_up(test_env, settings, docker_client, base_images):
    """The whole platform (Caddy, worker, edge watcher, dashboard) started with `up --detach`."""
    import redis

    remove_test_containers(docker_client)
    redis.Redis.from_url(test_env["REDIS_URL"]).flushdb()
    proc = subprocess.run([sys.executable, "-m", "cli", "up", "--detach"], cwd=ROOT, env=test_env,
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        logs = Path(test_env["RENDERLITE_DATA_DIR"]) / "logs"
        tails = "\n".join(f"--- {f.name}\n" + f.read_text()[-3000:] for f in sorted(logs.glob("*.log")))
        pytest.fail(f"up failed: {proc.stdout}\n{proc.stderr}\n{tails}")
    yield settings
    subprocess.run([sys.executable, "-m", "cli", "down"], cwd=ROOT, env=test_env, timeout=60)
    remove_test_containers(docker_client)


@pytest.fixture(scope="session")
def api(platform_up):
    from cli.client import Api

    return Api(platform_up)


@pytest.fixture(scope="session")
def project(api) -> str:
    api.post("/api/projects", {"name": "tests"})
    return "tests"


def wait_deploy(api, dep_id: int, timeout: int = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = api.get(f"/api/deployments/{dep_id}")
        if d["status"] in ("SUCCESS", "FAILED"):
            return d
        time.sleep(0.5)
    raise AssertionError(f"deployment {dep_id} did not finish in {timeout} s")


def eventually(check, seconds: float, step: float = 0.5):
    """Poll ``check`` until it returns something truthy (returned) or ``seconds`` pass (its last value)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(step)
    return check()


def edge_get(settings: Settings, subdomain: str, path: str = "/") -> httpx.Response:
    """A request through the edge, as a browser resolving <sub>.localhost would send it."""
    return httpx.get(f"http://127.0.0.1:{settings.edge_port}{path}",
                     headers={"Host": f"{subdomain}.{settings.domain}:{settings.edge_port}"}, timeout=10)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the browser fixture screenshots failures)."""
    outcome = yield
    setattr(item, f"rep_{call.when}", outcome.get_result())
