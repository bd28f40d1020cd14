"""Lifecycle from the API: stop/start/restart, rename, delete; status reconciled with Docker;
crash loops stopped after a bounded number of restarts, the edge answering 503 meanwhile."""
from __future__ import annotations

import time

import pytest

from tests import samples
from tests.conftest import edge_get, eventually, wait_deploy

pytestmark = pytest.mark.e2e


def deployed(api, project, git_server, name, files):
    url = git_server.create(name, files)
    api.post("/api/services", {"project": project, "name": name, "repo_url": url})
    d = wait_deploy(api, api.post(f"/api/services/{name}/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    return d


def test_stop_start_restart_rename_delete(api, project, git_server, platform_up, docker_client):
    deployed(api, project, git_server, "cycle", samples.python_app("c1"))

    assert api.post("/api/services/cycle/stop")["status"] == "stopped"
    r = edge_get(platform_up, "cycle")
    assert r.status_code == 503 and "cycle" in r.text and "not running" in r.text
    time.sleep(6)  # a reconcile pass must not flip a user's stop into anything else
    assert api.get("/api/services/cycle")["status"] == "stopped"

    assert api.post("/api/services/cycle/start")["status"] == "running"
    assert edge_get(platform_up, "cycle").text == "hello from c1\n"
    assert api.post("/api/services/cycle/restart")["status"] == "running"
    assert edge_get(platform_up, "cycle").text == "hello from c1\n"

    svc = api.call("PATCH", "/api/services/cycle", json={"subdomain": "cycle-two"})
    assert svc["url"] == "http://cycle-two.localhost:18080"
    assert edge_get(platform_up, "cycle-two").text == "hello from c1\n"
    assert edge_get(platform_up, "cycle").status_code == 404

    api.call("PUT", "/api/services/cycle/env/TOKEN", json={"value": "x"})   # rows that refer to the service
    api.call("DELETE", "/api/services/cycle")
    assert edge_get(platform_up, "cycle-two").status_code == 404
    assert docker_client.containers.list(all=True, filters={"label": ["renderlite.instance=test", "renderlite.service=cycle"]}) == []
    assert docker_client.images.list(name="renderlite-test/cycle") == []


def test_deleting_a_service_keeps_an_identical_image_of_another(api, project, git_server, platform_up, docker_client):
    """Two services built from the same code (staging and production of one repository) share one image id
    when every build step is cached: deleting one must untag only its own image, not force-remove the id
    with the other service's tags."""
    deployed(api, project, git_server, "twin-a", samples.repo("static"))
    deployed(api, project, git_server, "twin-b", samples.repo("static"))
    a, b = docker_client.images.list(name="renderlite-test/twin-a"), docker_client.images.list(name="renderlite-test/twin-b")
    assert a and b and a[0].id == b[0].id, "the premise: one image under both services' names"
    api.call("DELETE", "/api/services/twin-a")
    assert docker_client.images.list(name="renderlite-test/twin-a") == []
    assert docker_client.images.list(name="renderlite-test/twin-b"), "the other service's image (its rollback) is kept"
    assert "hello from static" in edge_get(platform_up, "twin-b").text


def test_container_stopped_outside_shows_crashed_within_seconds(api, project, git_server, platform_up, docker_client):
    d = deployed(api, project, git_server, "victim", samples.python_app("x"))
    docker_client.containers.get(f"rl-test-victim-{d['id']}").stop(timeout=1)
    svc = eventually(lambda: (s := api.get("/api/services/victim"))["status"] == "crashed" and s, seconds=10)
    assert svc, api.get("/api/services/victim")
    assert "exit code" in svc["status_detail"]
    r = edge_get(platform_up, "victim")
    assert r.status_code == 503 and "victim" in r.text


def test_crash_loop_is_bounded_and_shown(api, project, git_server, platform_up, docker_client):
    crashy = samples.python_app("boom", cmd='["sh", "-c", "python app.py & sleep 3; exit 7"]')   # up long enough to pass its deploy check
    d = deployed(api, project, git_server, "crashy", crashy)
    svc = eventually(lambda: (s := api.get("/api/services/crashy"))["status"] == "crashed"
                     and "restarted" in (s["status_detail"] or "") and s, seconds=60)
    assert "code 7" in svc["status_detail"]
    c = docker_client.containers.get(f"rl-test-crashy-{d['id']}")
    assert eventually(lambda: c.reload() or c.status == "exited", seconds=90)
    count = c.attrs["RestartCount"]
    time.sleep(6)
    c.reload()
    assert c.status == "exited" and c.attrs["RestartCount"] == count, "RenderLite stopped the crash loop"
    assert edge_get(platform_up, "crashy").status_code == 503


def test_a_rename_under_traefik_redeploys_so_the_labels_carry_the_new_name(api, project, git_server, platform_up,
                                                                          docker_client):
    """Found in review: Traefik reads a container's labels once, at creation; a rename left the old
    Host rule in place and the new name unrouted until the next deploy."""
    import dataclasses

    from control import lifecycle
    from core.wiring import build

    first = deployed(api, project, git_server, "labelled", samples.python_app("lab"))
    traefik = build(dataclasses.replace(platform_up, edge="traefik"))
    lifecycle.rename_subdomain(traefik, "labelled", "relabelled")
    rerun = eventually(lambda: [d for d in api.get("/api/services/labelled/deployments") if d["id"] != first["id"]], 10)
    assert rerun and rerun[0]["redeploy_of"] == first["id"]
    d = wait_deploy(api, rerun[0]["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    labels = docker_client.containers.get(f"rl-test-labelled-{d['id']}").labels
    assert any(v == "Host(`relabelled.localhost`)" for k, v in labels.items() if k.endswith(".rule")), labels
