"""Runtime isolation against the real engine: a fork bomb and a memory hog inside one app leave
the platform and a neighbouring app answering; the app's container has its limits and no way
out (no capabilities beyond a web app's, no Docker socket, not on the platform's network)."""
from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests import samples
from tests.conftest import edge_get, wait_deploy

pytestmark = pytest.mark.e2e


def deployed(api, project, git_server, name, files, **settings):
    api.post("/api/services", {"project": project, "name": name, "repo_url": git_server.create(name, files)})
    if settings:
        api.call("PATCH", f"/api/services/{name}", json=settings)
    d = wait_deploy(api, api.post(f"/api/services/{name}/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    return d


def test_fork_bomb_and_memory_hog_leave_the_platform_and_neighbours_answering(
        api, project, git_server, platform_up, docker_client):
    deployed(api, project, git_server, "peaceful", samples.python_app("peaceful"))
    d = deployed(api, project, git_server, "hostile", samples.hostile_app(), memory_mb="128", pids="64",
                 health_retries="100")   # after the fork bomb the monitor must not restart it while it is inspected
    box = docker_client.containers.get(f"rl-test-hostile-{d['id']}")
    host = box.attrs["HostConfig"]
    assert host["Memory"] == 128 * 1024 * 1024 and host["PidsLimit"] == 64
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges:true" in host["SecurityOpt"]
    assert not any("docker.sock" in m.get("Source", "") for m in box.attrs["Mounts"])
    assert list(box.attrs["NetworkSettings"]["Networks"]) == [platform_up.apps_network]

    failures, answers, stop = [], [], threading.Event()

    def watch():
        while not stop.is_set():
            t = time.monotonic()
            try:
                ok = edge_get(platform_up, "peaceful").text == "hello from peaceful\n"
                api_ok = httpx.get(f"{platform_up.web_url}/api/health", timeout=5).status_code == 200
                (answers if ok and api_ok and time.monotonic() - t < 5 else failures).append(time.monotonic() - t)
            except httpx.HTTPError as e:
                failures.append(repr(e))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert edge_get(platform_up, "hostile", "/hog").text == "hogging"
    deadline = time.monotonic() + 30
    while edge_get(platform_up, "hostile", "/hog-status").text == "None" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert edge_get(platform_up, "hostile", "/hog-status").text == "-9", "the hog was killed at 128 MB"
    assert edge_get(platform_up, "hostile", "/fork").text == "forking"   # after this the app cannot even start a thread
    time.sleep(12)
    stop.set()
    watcher.join(10)
    assert not failures and len(answers) > 20, (failures, len(answers))
    assert box.stats(stream=False)["pids_stats"]["current"] <= 64, "the fork bomb hit the process limit"
    api.call("DELETE", "/api/services/hostile")   # its container (and the bomb inside) goes with it
