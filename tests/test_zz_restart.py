"""Runs last: a restart of the platform leaves every running app routed again, with no redeploy."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests import samples
from tests.conftest import ROOT, edge_get, wait_deploy

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
