"""Zero-downtime redeploys: a client requesting every 100 ms through the edge sees no failure,
and the answers switch from v1 to v2 exactly once; a WebSocket keeps working across the switch."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tests import samples
from tests.conftest import wait_deploy

pytestmark = pytest.mark.e2e


class Poller(threading.Thread):
    def __init__(self, settings, subdomain, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.url = f"http://127.0.0.1:{settings.edge_port}/"
        self.host = f"{subdomain}.{settings.domain}"
        self.answers: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self):
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set() and len(self.answers) + len(self.failures) < 3000:
                try:
                    r = client.get(self.url, headers={"Host": self.host})
                    if r.status_code == 200:
                        self.answers.append(r.text.strip())
                    else:
                        self.failures.append(f"{r.status_code} {r.text[:80]}")
                except httpx.HTTPError as e:
                    self.failures.append(repr(e))
                time.sleep(self.interval)


def switches(answers: list[str]) -> list[str]:
    return [a for i, a in enumerate(answers) if i == 0 or answers[i - 1] != a]


def polled(platform_up, subdomain, action, interval: float = 0.1) -> Poller:
    """Run ``action()`` while a client requests the service every 100 ms; return the poller."""
    poller = Poller(platform_up, subdomain, interval)
    poller.start()
    time.sleep(1)
    try:
        action()
        time.sleep(platform_up.drain_seconds + 3)  # past the drain: the old container is gone
    finally:
        poller.stop.set()
        poller.join()
    return poller


def test_redeploy_and_rollback_of_a_slow_starting_app_drop_no_request(api, project, git_server, platform_up):
    url = git_server.create("slow", samples.slow_app("v1"))
    api.post("/api/services", {"project": project, "name": "slow", "repo_url": url})
    d1 = wait_deploy(api, api.post("/api/services/slow/deploy")["id"])
    assert d1["status"] == "SUCCESS", d1["failure_reason"]

    git_server.commit("slow", {"version.txt": "v2\n"})
    deps = []
    poller = polled(platform_up, "slow", lambda: deps.append(wait_deploy(api, api.post("/api/services/slow/deploy")["id"])))
    assert deps[0]["status"] == "SUCCESS", deps[0]["failure_reason"]
    assert poller.failures == []
    assert switches(poller.answers) == ["v1", "v2"], switches(poller.answers)
    assert len(poller.answers) > 60  # the app took >10 s to start: we really polled through it (a loaded CI box is slower)

    # Roll back to v1: its image is reused (no clone, no build), with the same zero-downtime switch.
    poller = polled(platform_up, "slow", lambda: deps.append(wait_deploy(api, api.post("/api/services/slow/rollback")["id"])))
    rb = deps[1]
    assert rb["status"] == "SUCCESS", rb["failure_reason"]
    assert rb["rollback_of"] == d1["id"] and rb["commit_sha"] == d1["commit_sha"]
    log = "\n".join(api.get(f"/api/deployments/{rb['id']}")["log_lines"])
    assert "Rolling back to deployment" in log and "Cloning" not in log and "Step 1/" not in log
    assert poller.failures == []
    assert switches(poller.answers) == ["v2", "v1"], switches(poller.answers)


def test_redeploy_of_an_app_that_closes_every_connection_drops_no_request(api, project, git_server, platform_up):
    """Found in a trial: an app answering HTTP/1.0 (gunicorn's sync workers, http.server) makes the
    edge dial anew for each request, resolving the old container's name while its cached answer
    still points there; that name stopped resolving at the switch, and the edge answered 503."""
    url = git_server.create("closer", samples.python_app("v1"))
    api.post("/api/services", {"project": project, "name": "closer", "repo_url": url})
    assert wait_deploy(api, api.post("/api/services/closer/deploy")["id"])["status"] == "SUCCESS"
    for n in (2, 3):
        git_server.commit("closer", {"version.txt": f"v{n}\n"})
        deps = []
        poller = polled(platform_up, "closer",
                        lambda: deps.append(wait_deploy(api, api.post("/api/services/closer/deploy")["id"])),
                        interval=0.02)
        assert deps[0]["status"] == "SUCCESS", deps[0]["failure_reason"]
        assert poller.failures == [], poller.failures[:5]
        assert switches(poller.answers) == [f"hello from v{n - 1}", f"hello from v{n}"], switches(poller.answers)


def test_redeploy_applies_new_variables_to_the_live_image_without_dropping_a_request(api, project, git_server,
                                                                                    platform_up):
    """`restart` restarts the container in place (same variables, a short gap); `redeploy` starts a new
    container of the live image with today's settings and variables and switches like a deploy."""
    import json

    api.post("/api/services", {"project": project, "name": "rerun", "repo_url": git_server.create("rerun", samples.env_app())})
    first = wait_deploy(api, api.post("/api/services/rerun/deploy")["id"])
    assert first["status"] == "SUCCESS", first["failure_reason"]
    api.call("PUT", "/api/services/rerun/env/GREETING", json={"value": "hello again"})
    deps = []
    poller = polled(platform_up, "rerun",
                    lambda: deps.append(wait_deploy(api, api.post("/api/services/rerun/redeploy")["id"])), interval=0.05)
    d = deps[0]
    assert d["status"] == "SUCCESS" and d["redeploy_of"] == first["id"], d["failure_reason"]
    assert poller.failures == [], poller.failures[:5]
    seen = [json.loads(a).get("GREETING") for a in switches(poller.answers)]
    assert seen == [None, "hello again"], seen
    log = "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    assert "Redeploying the live deployment" in log and "Cloning" not in log


def test_a_redeploy_queued_behind_a_deploy_redeploys_the_new_version(api, project, git_server, platform_up):
    """Found in a trial: `deploy` then at once `redeploy` put the older version back live (the redeploy
    had taken the image live when it was queued)."""
    url = git_server.create("behind", samples.python_app("v1"))
    api.post("/api/services", {"project": project, "name": "behind", "repo_url": url})
    assert wait_deploy(api, api.post("/api/services/behind/deploy")["id"])["status"] == "SUCCESS"
    git_server.commit("behind", {"version.txt": "v2\n"})
    new = api.post("/api/services/behind/deploy")["id"]
    again = api.post("/api/services/behind/redeploy")["id"]
    assert wait_deploy(api, new)["status"] == "SUCCESS"
    d = wait_deploy(api, again)
    assert d["status"] == "SUCCESS" and d["redeploy_of"] == new, d
    r = httpx.get(f"http://127.0.0.1:{platform_up.edge_port}/", headers={"Host": "behind.localhost"}, timeout=5)
    assert r.text == "hello from v2\n"


def test_unhealthy_new_version_keeps_old_and_logs_probes(api, project, git_server, platform_up):
    url = git_server.create("picky", samples.python_app("v1"))
    api.post("/api/services", {"project": project, "name": "picky", "repo_url": url, "port": 3000})
    assert wait_deploy(api, api.post("/api/services/picky/deploy")["id"])["status"] == "SUCCESS"
    api.call("PATCH", "/api/services/picky", json={"health_start_period": "10"})
    # v2 listens on a fixed port 5000 whatever PORT says: it never passes its check on 3000.
    git_server.commit("picky", {"Dockerfile": samples.dockerfile(extra="ENV PORT_OVERRIDE=5000\n",
                                                                 cmd='["sh", "-c", "PORT=5000 exec python app.py"]')})
    d = wait_deploy(api, api.post("/api/services/picky/deploy")["id"])
    assert d["status"] == "FAILED" and d["failure_stage"] == "run"
    assert "listens on 0.0.0.0:5000, not on port 3000" in d["failure_reason"]
    assert "set the service's port to 5000" in d["failure_reason"]
    log = "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    assert "probe 1:" in log and "Connection refused" in log
    r = httpx.get(f"http://127.0.0.1:{platform_up.edge_port}/", headers={"Host": "picky.localhost"}, timeout=5)
    assert r.text == "hello from v1\n"


def test_websocket_keeps_working_across_a_redeploy(api, project, git_server, platform_up):
    """An open WebSocket keeps echoing through the switch and the drain, and is then closed
    cleanly (1001, going away: the old container got SIGTERM, not SIGKILL); a new one reaches v2."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = git_server.create("wsecho", samples.ws_app("v1"))
    api.post("/api/services", {"project": project, "name": "wsecho", "repo_url": url})
    d = wait_deploy(api, api.post("/api/services/wsecho/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    ws_url = f"ws://wsecho.localhost:{platform_up.edge_port}/"
    edge = lambda: socket.create_connection(("127.0.0.1", platform_up.edge_port), timeout=5)  # noqa: E731
    with connect(ws_url, sock=edge(), open_timeout=5) as ws:
        ws.send("before")
        assert ws.recv(timeout=5) == "v1:before"
        git_server.commit("wsecho", {"version.txt": "v2\n"})
        dep = api.post("/api/services/wsecho/deploy")
        deadline = time.monotonic() + 120
        while api.get(f"/api/deployments/{dep['id']}")["status"] not in ("SUCCESS", "FAILED"):
            ws.send("during")
            assert ws.recv(timeout=5) == "v1:during"
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert api.get(f"/api/deployments/{dep['id']}")["status"] == "SUCCESS"
        ws.send("after switch")
        assert ws.recv(timeout=5) == "v1:after switch", "the old container still serves its open sockets"
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                ws.send("draining")
                assert ws.recv(timeout=5) == "v1:draining"
                time.sleep(0.2)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value
    with connect(ws_url, sock=edge(), open_timeout=5) as ws:
        ws.send("new")
        assert ws.recv(timeout=5) == "v2:new"


def test_in_flight_request_survives_another_services_deploy(api, project, git_server, platform_up):
    """Every deploy changes the edge's route table. A long request to another service that is in
    flight at that moment must still get its answer (a reload of the edge must not cut it)."""
    for name in ("longreq", "neighbour"):
        url = git_server.create(name, samples.python_app(name))
        api.post("/api/services", {"project": project, "name": name, "repo_url": url})
    assert wait_deploy(api, api.post("/api/services/longreq/deploy")["id"])["status"] == "SUCCESS"

    result: dict = {}

    def slow_request():
        try:
            r = httpx.get(f"http://127.0.0.1:{platform_up.edge_port}/sleep/25",
                          headers={"Host": "longreq.localhost"}, timeout=60)
            result["answer"] = (r.status_code, r.text)
        except httpx.HTTPError as e:
            result["answer"] = repr(e)

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(1)
    d = wait_deploy(api, api.post("/api/services/neighbour/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert t.is_alive(), "the neighbour's deploy (and its route change) happened while the request was in flight"
    t.join(60)
    assert result["answer"] == (200, "hello from longreq\n")
