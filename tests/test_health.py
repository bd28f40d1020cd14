"""Health checks end to end: a TCP check for an app that does not speak HTTP, a health path that
fails the deploy, and a running app that starts failing its checks (unhealthy, restarted, running)."""
from __future__ import annotations

import socket
import time

import pytest

from tests import samples
from tests.conftest import edge_get, wait_deploy

pytestmark = pytest.mark.e2e


def create(api, project, git_server, name, files, **settings):
    api.post("/api/services", {"project": project, "name": name, "repo_url": git_server.create(name, files)})
    if settings:
        api.call("PATCH", f"/api/services/{name}", json=settings)


def status_becomes(api, name, wanted, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        svc = api.get(f"/api/services/{name}")
        if svc["status"] == wanted:
            return svc
        time.sleep(0.5)
    raise AssertionError(f"{name} did not become {wanted} in {seconds} s: {api.get(f'/api/services/{name}')}")


def test_tcp_check_for_an_app_that_does_not_speak_http(api, project, git_server, docker_client, platform_up):
    create(api, project, git_server, "rawtcp", samples.tcp_app(), health_type="tcp", port="7000")
    d = wait_deploy(api, api.post("/api/services/rawtcp/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert "health check: TCP :7000" in "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    ip = docker_client.containers.get(f"rl-test-rawtcp-{d['id']}").attrs["NetworkSettings"]["Networks"][
        platform_up.apps_network]["IPAddress"]
    with socket.create_connection((ip, 7000), timeout=5) as s:
        s.sendall(b"hi\n")
        assert s.recv(100) == b"echo hi\n"
    # The same app with the default HTTP check never passes: it answers, but not HTTP.
    api.call("PATCH", "/api/services/rawtcp", json={"health_type": "http", "health_start_period": "3"})
    d = wait_deploy(api, api.post("/api/services/rawtcp/deploy")["id"])
    assert d["status"] == "FAILED" and "did not pass its health check on port 7000" in d["failure_reason"]


def test_running_app_that_fails_its_checks_is_marked_unhealthy_and_restarted(api, project, git_server, platform_up):
    create(api, project, git_server, "flaky", samples.flaky_app(), health_path="/healthz", health_interval="1",
           health_retries="2", health_start_period="10")
    d = wait_deploy(api, api.post("/api/services/flaky/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    boot = edge_get(platform_up, "flaky").text
    status_becomes(api, "flaky", "running", 10)
    edge_get(platform_up, "flaky", "/break")
    svc = status_becomes(api, "flaky", "unhealthy", 20)
    assert "failed its health check 2 times in a row" in svc["status_detail"]
    assert "GET /healthz answered 500" in svc["status_detail"] and "RenderLite restarted it" in svc["status_detail"]
    status_becomes(api, "flaky", "running", 30)
    assert edge_get(platform_up, "flaky").text != boot, "the container was restarted (a new boot)"


def test_a_health_setting_change_applies_from_the_next_deploy_not_to_the_live_one(api, project, git_server,
                                                                                  platform_up):
    create(api, project, git_server, "settled", samples.flaky_app(), health_interval="1", health_retries="2")
    d = wait_deploy(api, api.post("/api/services/settled/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    edge_get(platform_up, "settled", "/break")            # from now on /healthz answers 500, / still 200
    api.call("PATCH", "/api/services/settled", json={"health_path": "/healthz"})
    time.sleep(8)                                        # several intervals of the live deployment's check
    svc = api.get("/api/services/settled")
    assert svc["status"] == "running", svc["status_detail"]


def test_a_container_removed_from_outside_while_starting_fails_the_start_cleanly(docker_client, base_images):
    """Found in CI: a container that vanished during its health check crashed the worker (Docker's 404)."""
    from core.errors import StartError
    from jobs.run import check_alive

    c = docker_client.containers.run(samples.PY_BASE, ["sleep", "60"], detach=True,
                                     labels={"renderlite.test": "vanishing"})
    check_alive(c)                      # running: no complaint
    c.remove(force=True)
    with pytest.raises(StartError, match="removed from outside"):
        check_alive(c)


def test_a_version_answering_only_server_errors_never_replaces_a_working_one(api, project, git_server, platform_up):
    """Found in a trial: a Django site answering 500 on every page read SUCCESS (any answer passed)."""
    create(api, project, git_server, "erring", samples.python_app("v1"))
    assert wait_deploy(api, api.post("/api/services/erring/deploy")["id"])["status"] == "SUCCESS"
    git_server.commit("erring", {"Dockerfile": samples.dockerfile(extra="ENV STATUS=500\n"), "version.txt": "v2\n"})
    d = wait_deploy(api, api.post("/api/services/erring/deploy")["id"])
    reason = d["failure_reason"]
    assert d["status"] == "FAILED" and "GET / answered 500, a server error" in reason, reason
    assert "health_path=/healthz" in reason and "hello from v2" not in edge_get(platform_up, "erring").text
    assert edge_get(platform_up, "erring").text == "hello from v1\n"


def test_the_first_pass_needs_an_answer_below_500_but_a_running_app_only_an_answer():
    import http.server
    import threading

    from jobs.health import HealthSpec, probe

    class Erring(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500 if self.path == "/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Erring)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert probe("127.0.0.1", port, HealthSpec(), first=True) == "GET / answered 500, a server error"
        assert probe("127.0.0.1", port, HealthSpec()) is None, "a running app that answers is alive"
        assert probe("127.0.0.1", port, HealthSpec(path="/ok"), first=True) == "GET /ok answered 404"
    finally:
        server.shutdown()


def test_503_is_waited_for_but_other_errors_fail_after_20_s(monkeypatch):
    """Found in review: a readiness path answering 503 while it loads (then 200 at 30 s) failed at
    20 s although the start period was 300 s."""
    import jobs.health as h

    clock = [0.0]
    monkeypatch.setattr(h.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(h.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))

    class Log:
        def line(self, text):
            pass

    def run(answer, ready=True):
        firsts = []

        def probe(ip, port, spec, first=False):
            firsts.append(first)
            return answer(clock[0])
        monkeypatch.setattr(h, "probe", probe)
        clock[0] = 0.0
        try:
            h.wait_first_pass(lambda: "10.0.0.2", 80, h.HealthSpec(start_period=300, interval=1), lambda: None, Log(),
                              ready=ready)
            return clock[0], None, firsts
        except TimeoutError as e:
            return clock[0], str(e), firsts

    t, err, _ = run(lambda now: None if now >= 30 else "GET /ready answered 503")
    assert err is None and t >= 30
    t, err, _ = run(lambda now: "GET / answered 500, a server error")
    assert 20 <= t < 21 and err == "GET / answered 500, a server error, for 20 s in a row"
    _, _, firsts = run(lambda now: None, ready=False)
    assert firsts == [False], "a start or restart of the live version needs an answer, not readiness"
