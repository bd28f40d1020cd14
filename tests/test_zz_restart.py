"""Runs last: a restart of the platform leaves every running app routed again, with no redeploy."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests import samples
from tests.conftest import ROOT, edge_get, eventually, wait_deploy

pytestmark = pytest.mark.e2e


def test_routes_survive_a_platform_restart(test_env, api, project, git_server, platform_up):
    url = git_server.create("survivor", samples.python_app("still here"))
    api.post("/api/services", {"project": project, "name": "survivor", "repo_url": url})
    d = wait_deploy(api, api.post("/api/services/survivor/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]

    subprocess.run([sys.executable, "-m", "cli", "down"], cwd=ROOT, env=test_env, check=True, timeout=60)
    with pytest.raises(Exception):
        edge_get(platform_up, "survivor")
    r = subprocess.run([sys.executable, "-m", "cli", "up", "--detach"], cwd=ROOT, env=test_env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if edge_get(platform_up, "survivor").text == "hello from still here\n":
                break
        except Exception:
            pass
        time.sleep(0.5)
    assert edge_get(platform_up, "survivor").text == "hello from still here\n"


def test_apps_are_routed_again_after_a_docker_engine_restart(api, project, platform_up, docker_client):
    """dockerd stops (its containers with it) and starts again: apps come back by their restart policy,
    possibly on new addresses, and the edge routes to them again without a redeploy."""
    import docker

    before = docker_client.containers.get(f"rl-test-survivor-{api.get('/api/services/survivor')['live_deployment_id']}")
    ip_before = before.attrs["NetworkSettings"]["Networks"][platform_up.apps_network]["IPAddress"]
    pid = int(subprocess.run(["pgrep", "-o", "-x", "dockerd"], capture_output=True, text=True).stdout.split()[0])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.5)
    log = open(platform_up.data_dir / "logs" / "dockerd-restarted.log", "ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                     start_new_session=True)
    deadline, client = time.monotonic() + 60, None
    while client is None and time.monotonic() < deadline:
        try:
            client = docker.from_env(timeout=60)
            client.ping()
        except Exception:
            client = None
            time.sleep(0.5)
    assert client is not None, "dockerd did not come back"
    deadline, last = time.monotonic() + 45, None
    while time.monotonic() < deadline:
        try:
            last = edge_get(platform_up, "survivor")
            if last.text == "hello from still here\n":
                break
        except Exception as e:
            last = e
        time.sleep(0.5)
    assert getattr(last, "text", None) == "hello from still here\n", last
    assert eventually(lambda: api.get("/api/services/survivor")["status"] == "running", 15), api.get("/api/services/survivor")
    print(f"address before {ip_before}, after "
          f"{client.containers.get(before.id).attrs['NetworkSettings']['Networks'][platform_up.apps_network]['IPAddress']}")


def test_postgres_restart_loses_nothing(api, project, git_server, platform_up):
    """PostgreSQL restarts under the running platform: apps keep answering, no record is lost, and the
    next deploy works (connections are re-opened)."""
    before = api.get("/api/services/survivor/deployments")
    cluster = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True).stdout.split()[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True, timeout=120)
    assert edge_get(platform_up, "survivor").text == "hello from still here\n"
    deadline = time.monotonic() + 30
    while True:
        try:
            after = api.get("/api/services/survivor/deployments")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert [d["id"] for d in after] == [d["id"] for d in before]
    git_server.commit("survivor", {"version.txt": "after postgres\n"})
    d = wait_deploy(api, api.post("/api/services/survivor/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, "survivor").text == "hello from after postgres\n"
