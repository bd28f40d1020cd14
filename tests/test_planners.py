"""Table-driven tests of the pure planners: validation, clone argv, labels, routes, edge config."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.errors import BuildError, CloneError, ValidationError
from core.settings import Settings, SettingsError
from edge import caddy
from edge.labels import Identity, container_labels
from edge.routes import LiveService, RunningApp, plan_routes, plan_targets
from jobs import build, clone
from jobs.run import ContainerPlan
from models import validation as v


@pytest.mark.parametrize("url", [
    "https://github.com/acme/app.git", "http://127.0.0.1:8000/app.git", "git://127.0.0.1:9418/app.git",
    "https://gitlab.example.com/group/sub/app",
])
def test_repo_url_accepted(url):
    assert v.repo_url(url) == url


@pytest.mark.parametrize("url,cause", [
    ("file:///etc", "file://"), ("/srv/repos/app.git", "local path"), ("./app", "local path"),
    ("ext::sh -c touch% /tmp/pwned", "transport helper"), ("-uhttps://x", "starts with '-'"),
    ("--upload-pack=touch /tmp/x", "starts with '-'"), ("ssh://git@github.com/a/b", "ssh://"),
    ("", "empty"), ("https://", "no host"), ("https://github.com/a b", "spaces"),
])
def test_repo_url_rejected_with_cause(url, cause):
    with pytest.raises(ValidationError) as e:
        v.repo_url(url)
    assert cause in str(e.value)


@pytest.mark.parametrize("branch,ok", [
    ("main", True), ("feature/x", True), ("release-1.2", True), ("-x", False), ("a..b", False),
    ("a b", False), ("a~1", False), ("refs/../x", False), ("x.lock", False), ("", True),
])
def test_branch(branch, ok):
    if ok:
        assert v.branch(branch)
    else:
        with pytest.raises(ValidationError):
            v.branch(branch)


@pytest.mark.parametrize("path,expected", [("", ""), (".", ""), ("apps/web", "apps/web"), ("/apps/web/", "apps/web")])
def test_relative_path_ok(path, expected):
    assert v.relative_path(path, "root directory") == expected


@pytest.mark.parametrize("path", ["../etc", "apps/../../x", "a\\b", "apps/web\nFROM x", "a\x1b[2Jb"])
def test_relative_path_escape_rejected(path):
    with pytest.raises(ValidationError):
        v.relative_path(path, "root directory")


@pytest.mark.parametrize("value,ok", [("8080", True), (443, True), (0, False), (70000, False), ("http", False)])
def test_port(value, ok):
    if ok:
        assert 1 <= v.port(value) <= 65535
    else:
        with pytest.raises(ValidationError):
            v.port(value)


def test_clone_argv_is_a_list_with_url_after_double_dash():
    plan = clone.ClonePlan("https://h/r.git", "feature/$(id)", Path("/tmp/x"), 60)
    argv = plan.argv()
    assert argv[argv.index("--branch") + 1] == "feature/$(id)"
    assert argv[-3:] == ["--", "https://h/r.git", "/tmp/x"]
    assert "--depth" in argv and "--single-branch" in argv and "--recurse-submodules" not in argv


@pytest.mark.parametrize("stderr,needle", [
    ("warning: Could not find remote branch nope to clone.\nfatal: Remote branch nope not found in upstream origin",
     "branch 'nope' not found"),
    ("fatal: unable to access 'https://x/': Could not resolve host: x", "cannot resolve the host"),
    ("fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused", "cannot connect"),
    ("fatal: remote error: access denied or repository not exported: /x.git", "failed"),
    ("remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found", "not found or needs credentials"),
])
def test_clone_errors_are_explained(stderr, needle):
    assert needle in clone.explain(clone.ClonePlan("https://x/r.git", "nope", Path("/tmp/x"), 60), stderr)


def test_build_plan_refuses_missing_dockerfile_and_escapes(tmp_path):
    (tmp_path / "apps" / "web").mkdir(parents=True)
    req = lambda **kw: build.BuildRequest(checkout=tmp_path, tag="t:1", timeout=60, **kw)
    with pytest.raises(BuildError, match="no Dockerfile at 'apps/web/Dockerfile'"):
        build.plan(req(root_dir="apps/web", builder="dockerfile"))
    with pytest.raises(BuildError, match="does not exist"):
        build.plan(req(root_dir="nope"))
    (tmp_path / "apps" / "web" / "Dockerfile").write_text("FROM scratch\n")
    p = build.plan(req(root_dir="apps/web", builder="dockerfile"))
    assert p.context == (tmp_path / "apps" / "web").resolve() and p.dockerfile == "Dockerfile"


def test_container_plan_limits_and_port():
    plan = ContainerPlan(name="n", image="i", port=5000, network="net", labels={"a": "b"}, env={"PORT": "1"})
    kw = plan.run_kwargs()
    assert kw["environment"]["PORT"] == "5000"
    assert kw["cap_drop"] == ["ALL"] and "no-new-privileges:true" in kw["security_opt"]
    assert kw["pids_limit"] == 256 and kw["mem_limit"] == "512m" and kw["restart_policy"]["Name"] == "unless-stopped"
    assert "volumes" not in kw and "privileged" not in kw


def test_labels_identify_and_route():
    labels = container_labels(Identity("default", "p", "web", 7, "web", 3000), "apps.example.com", "net")
    assert labels["renderlite.service"] == "web" and labels["renderlite.deployment"] == "7"
    assert labels["traefik.http.routers.rl-default-web.rule"] == "Host(`web.apps.example.com`)"
    assert labels["traefik.http.services.rl-default-web.loadbalancer.server.port"] == "3000"


def test_routes_follow_the_live_deployment_only():
    apps = [RunningApp("a", "web", 1, 3000, "10.0.0.2", True), RunningApp("b", "web", 2, 3000, "10.0.0.3", True),
            RunningApp("c", "api", 5, 8000, "10.0.0.4", False)]
    services = [LiveService("web", "web", 1, "running"), LiveService("api", "api", 5, "crashed"),
                LiveService("new", "new", None, "created")]
    routes = plan_routes(services, apps)
    assert [(r.subdomain, r.upstream, r.state) for r in routes] == [
        ("api", None, "crashed"), ("new", None, "created"), ("web", "10.0.0.2:3000", "running")]


APPS = [RunningApp("a", "web", 7, 3000, "172.18.0.9", True), RunningApp("b", "web", 6, 3000, "172.18.0.8", True),
        RunningApp("c", "api", 5, 8000, "172.18.0.7", False)]
TABLE = {r.subdomain: r for r in plan_routes(
    [LiveService("web", "web", 7, "running"), LiveService("api", "api", 5, "stopped"),
     LiveService("new", "new", None, "created")], APPS)}
TARGETS = plan_targets(APPS)


def _reply(name, qtype):
    import struct
    from edge import dns

    packet = dns.answer(dns.query(name, qtype, qid=0xBEEF), TABLE, "test", TARGETS)
    qid, flags, _qd, ancount = struct.unpack(">HHHH", packet[:8])
    assert qid == 0xBEEF and flags & 0x8000, "a response to the same query id"
    return flags & 0xF, ancount, packet


@pytest.mark.parametrize("name,qtype,rcode,answers,contains", [
    ("web.test.rl.internal", 33, 0, 1, b"\x02d7\x04test"),          # SRV -> target d7, port 3000
    ("WEB.test.rl.internal", 33, 0, 1, b"\x0b\xb8"),                # names are case-insensitive; port 0x0bb8
    ("d7.test.rl.internal", 1, 0, 1, bytes([172, 18, 0, 9])),         # A of the live container
    ("d7.test.rl.internal", 28, 0, 0, b""),                           # no IPv6: empty, not an error
    ("api.test.rl.internal", 33, 0, 0, b""),                          # stopped: known, but nothing to route to
    ("d5.test.rl.internal", 1, 3, 0, b""),                            # a stopped deployment is not routable
    ("d6.test.rl.internal", 1, 0, 1, bytes([172, 18, 0, 8])),         # a draining one still resolves (found in
    ("d6.test.rl.internal", 33, 0, 0, b""),                           # a trial: 503s right after each switch)
    ("nope.test.rl.internal", 33, 3, 0, b""),                         # unknown subdomain: NXDOMAIN
    ("web.other.rl.internal", 33, 5, 0, b""),                         # another installation's zone: refused
    ("example.com", 1, 5, 0, b""),
])
def test_edge_dns_answers(name, qtype, rcode, answers, contains):
    got_rcode, got_answers, packet = _reply(name, qtype)
    assert (got_rcode, got_answers) == (rcode, answers)
    assert contains in packet


@pytest.mark.parametrize("packet", [b"", b"\x00" * 5, b"\x12\x34\x81\x80" + b"\x00" * 8, b"\x12\x34\x01\x00\x00\x01" + b"\x00" * 6 + b"\x3f"])
def test_edge_dns_ignores_garbage(packet):
    from edge import dns

    assert dns.answer(packet, TABLE, "test") is None


@pytest.mark.parametrize("host,code,text", [
    ("api.localhost:8080", 503, "Service 'api' is not running: it was stopped by its owner."),
    ("new.localhost", 503, "Service 'new' is not deployed yet."),
    ("web.localhost", 503, "running but did not answer"),
    ("ghost.localhost", 404, "No RenderLite service answers at ghost.localhost."),
    ("localhost", 404, "No RenderLite service"),
    ("<script>.localhost", 404, "&lt;script&gt;"),
])
def test_edge_status_pages(host, code, text):
    from edge.agent import status_page

    got, body = status_page(host, "localhost", TABLE)
    assert got == code and text in body and "<script>" not in body


def test_caddy_config_is_static_and_asks_the_agent(tmp_path):
    s = Settings.from_env({"RENDERLITE_DATA_DIR": str(tmp_path), "RENDERLITE_DOMAIN": "apps.example.com",
                           "RENDERLITE_INSTANCE": "prod", "RENDERLITE_EDGE_AGENT": "127.0.0.1:9053"})
    cfg = caddy.config(s)
    srv = cfg["apps"]["http"]["servers"]["renderlite"]
    assert srv["listen"] == [":8080"]
    app_route = srv["routes"][0]
    assert app_route["match"] == [{"host": ["*.apps.example.com"]}]
    up = app_route["handle"][0]["dynamic_upstreams"]
    # labels are counted from the right: web.apps.example.com -> labels.3 == "web"
    assert up["name"] == "{http.request.host.labels.3}.prod.rl.internal." and up["source"] == "srv"
    assert up["resolver"]["addresses"] == ["udp/127.0.0.1:9053"]
    assert srv["errors"]["routes"][0]["handle"][0]["upstreams"] == [{"dial": "127.0.0.1:9053"}]
    assert "flush_interval" not in json.dumps(cfg), "flush_interval -1 makes Caddy cut every request at a reload"


def test_route_table_publish_is_atomic_and_skips_unchanged(tmp_path):
    from edge import table

    path = tmp_path / "routes.json"
    routes = list(TABLE.values())
    assert table.publish(path, routes, TARGETS) and not table.publish(path, routes, TARGETS)
    assert table.read_all(path) == (sorted(routes, key=lambda r: r.subdomain), {7: "172.18.0.9", 6: "172.18.0.8"})
    t = table.Table(path)
    assert t.routes()["web"].upstream == "172.18.0.9:3000" and t.targets()[6] == "172.18.0.8"
    path.write_text("{ torn write")
    assert t.routes()["web"].upstream == "172.18.0.9:3000", "a bad file keeps the last good table"


@pytest.mark.parametrize("env,needle", [
    ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"), ({"RENDERLITE_EDGE_PORT": "eighty"}, "RENDERLITE_EDGE_PORT"),
    ({"RENDERLITE_DOMAIN": "http://x"}, "RENDERLITE_DOMAIN"), ({"RENDERLITE_APP_CPUS": "nan"}, "RENDERLITE_APP_CPUS"),
    ({"RENDERLITE_BUILD_CPUS": "inf"}, "RENDERLITE_BUILD_CPUS"),
])
def test_settings_fail_fast_naming_the_variable(env, needle):
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_settings_defaults_to_sqlite_and_normalises_postgres(tmp_path):
    assert Settings.from_env({"RENDERLITE_DATA_DIR": str(tmp_path)}).database_url == f"sqlite:///{tmp_path}/renderlite.db"
    assert Settings.from_env({"DATABASE_URL": "postgres://u@h/d"}).database_url == "postgresql+psycopg://u@h/d"


# /proc/net/tcp rows as the kernel prints them (little-endian hex address, hex port, state 0A = LISTEN).
PROC_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
DOCKER_DNS_ROW = "   0: 0B00007F:9969 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"


@pytest.mark.parametrize("rows,port,expected", [
    # Only Docker's embedded DNS (127.0.0.11:random) listens: the app itself listens nowhere.
    ([DOCKER_DNS_ROW], 3000, "not listening on any TCP port"),
    ([DOCKER_DNS_ROW, "   1: 0100007F:0BB8 00000000:0000 0A 0 0 0 0 0 2 1\n"], 3000, "listens on 127.0.0.1:3000"),
    # Flask's app.run(): 127.0.0.1:5000. Not "set the port to 5000" (that still could not be reached).
    ([DOCKER_DNS_ROW, "   1: 0100007F:1388 00000000:0000 0A 0 0 0 0 0 2 1\n"], 3000,
     "listens only on 127.0.0.1:5000, which only the container itself can reach; make it listen on 0.0.0.0"),
    ([DOCKER_DNS_ROW, "   1: 00000000:1388 00000000:0000 0A 0 0 0 0 0 2 1\n"], 3000,
     "listens on 0.0.0.0:5000, not on port 3000; set the service's port to 5000"),
    (["   1: 00000000:0BB8 00000000:0000 0A 0 0 0 0 0 2 1\n"], 3000, "does not answer HTTP"),
    # An established connection (state 01) is not a listener.
    (["   1: 00000000:1388 0200000A:D431 01 0 0 0 0 0 2 1\n"], 3000, "not listening on any TCP port"),
])
def test_port_diagnosis_ignores_docker_dns(rows, port, expected):
    from jobs.run import explain_listeners, parse_listeners

    socks = parse_listeners(PROC_HEADER + "".join(rows), PROC_HEADER)
    assert ("127.0.0.11", 0x9969) not in socks
    assert expected in explain_listeners(socks, port)


@pytest.mark.parametrize("value", [None, "", "auto"])
def test_unset_port_means_discover(value):
    assert v.port(value) is None


@pytest.mark.parametrize("setting,exposed,port,why", [
    (8000, ["5000/tcp"], 8000, "the service's port setting"),
    (None, ["5000/tcp"], 5000, "EXPOSE"),
    (None, ["53/udp", "8080/tcp"], 8080, "EXPOSE"),
    (None, ["9000/tcp", "8080/tcp"], 8080, "lowest of the image's EXPOSE ports 8080, 9000"),
    (None, [], 3000, "discovered"),
])
def test_choose_port(setting, exposed, port, why):
    from jobs.run import choose_port

    got, reason = choose_port(setting, exposed)
    assert got == port and why in reason


def test_running_app_from_a_container_listing_row():
    row = {"Id": "abc", "Names": ["/rl-test-web-7"], "State": "running",
           "Labels": {"renderlite.service": "web", "renderlite.deployment": "7", "renderlite.port": "3000"},
           "NetworkSettings": {"Networks": {"renderlite-test-apps": {"IPAddress": "172.18.0.9"}}}}
    assert RunningApp.from_listing(row, "renderlite-test-apps") == RunningApp("abc", "web", 7, 3000, "172.18.0.9", True)
    assert RunningApp.from_listing(dict(row, State="exited"), "renderlite-test-apps").running is False
    assert RunningApp.from_listing(row, "other-net").ip == ""
    bad = dict(row, Labels={"renderlite.service": "web", "renderlite.deployment": "seven"})
    assert RunningApp.from_listing(bad, "renderlite-test-apps") is None, "one bad container is skipped, not fatal"


# -------------------------------------------------------------- found by a security review
def test_repo_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ValidationError) as e:
        v.repo_url("https://deploy:ghp_SECRET123@github.com/acme/app.git")
    assert "carries credentials" in str(e.value) and "ghp_SECRET123" not in str(e.value)


@pytest.mark.parametrize("sub", ["d7", "d123"])
def test_subdomains_that_collide_with_the_edges_deployment_names_are_reserved(sub):
    with pytest.raises(ValidationError, match="reserved"):
        v.name(sub, "subdomain")
    assert v.name(sub, "service name") == sub and v.name("dev", "subdomain") == "dev"


def test_a_trickling_app_cannot_hold_a_health_probe(tmp_path):
    import socket
    import threading
    import time as _t

    from jobs.health import HealthSpec, probe

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def trickle():
        conn, _ = srv.accept()
        for _ in range(50):
            try:
                conn.send(b"H")
            except OSError:
                return
            _t.sleep(0.2)
    threading.Thread(target=trickle, daemon=True).start()
    t = _t.monotonic()
    result = probe("127.0.0.1", srv.getsockname()[1], HealthSpec(timeout=1.0))
    assert _t.monotonic() - t < 2 and "no complete answer within 1 s" in result
    srv.close()


def test_clone_size_counts_many_small_files(tmp_path):
    for i in range(3000):
        (tmp_path / f"f{i}").touch()
    assert clone.size_mb(tmp_path) >= 3000 * 4 / 1024


@pytest.mark.parametrize("url,ok", [
    ("https://h/acme/lib.git", True), ("git://h/lib.git", True), ("../lib.git", False),   # git resolves relative ones first
    ("http://127.0.0.1:8080/secret.git", False), ("https://internal.corp/lib.git", False),
    ("file:///etc", False), ("ext::sh -c id", False), ("https://user:tok@h/lib.git", False), ("ssh://h/lib.git", False),
])
def test_submodules_come_only_from_the_repositorys_host(url, ok):
    plan = clone.ClonePlan("https://h/acme/app.git", "main", Path("/tmp/x"), 60, submodules=True)
    if ok:
        clone.check_submodules(plan, {"lib": url})
    else:
        with pytest.raises(CloneError, match="not at the repository's own host"):
            clone.check_submodules(plan, {"lib": url})


def superproject(tmp_path: Path, gitmodules: str, origin: str) -> clone.ClonePlan:
    """A checkout whose .gitmodules says ``gitmodules``, with a gitlink for each path, cloned from ``origin``."""
    import subprocess

    run = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)
    run("init", "-q")
    (tmp_path / ".gitmodules").write_text(gitmodules)
    for path in re.findall(r"path = (\S+)", gitmodules):
        run("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},{path}")
    run("remote", "add", "origin", origin)
    return clone.ClonePlan(origin, "main", tmp_path, 60, submodules=True)


@pytest.mark.parametrize("gitmodules,resolved", [
    # a name with a space made the value read as "https://h/ok.url http://127.0.0.1..." (host h)
    ('[submodule "x https://h/ok"]\n\tpath = lib\n\turl = http://127.0.0.1:18765/internal\n',
     "http://127.0.0.1:18765/internal"),
    # a relative URL climbs out of the repository's host
    ('[submodule "lib"]\n\tpath = lib\n\turl = ../../../127.0.0.1:18765/internal\n', "127.0.0.1:18765/internal"),
    ('[submodule "lib2"]\n\tpath = lib2\n\turl = ../lib2.git\n', "http://h/acme/lib2.git"),
])
def test_submodule_urls_are_checked_as_git_resolves_them(tmp_path, gitmodules, resolved):
    """Found in a security review: the check read .gitmodules loosely and trusted relative URLs."""
    plan = superproject(tmp_path, gitmodules, "http://h/acme/app.git")
    urls = clone.submodule_urls(plan)
    assert len(urls) == 1 and resolved in next(iter(urls.values()))
    if "127.0.0.1" in resolved:
        with pytest.raises(CloneError, match="not at the repository's own host"):
            clone.check_submodules(plan, urls)
    else:
        clone.check_submodules(plan, urls)


@pytest.mark.parametrize("changes,says", [
    ({"health_start_period": "nan"}, "not a number"),     # a deadline of nan never came: probed for ever
    ({"cpus": "nan"}, "not a number"), ({"cpus": "inf"}, "not a number"), ({"memory_mb": "1e999"}, "not a whole number"),
    ({"cpus": "1e-12"}, "at least 0.01"),                  # nano_cpus 0 means no limit at all to Docker
    ({"memory_mb": "2"}, "at least 6"), ({"health_timeout": "0.0001"}, "at least 0.1"),
])
def test_service_limits_refuse_values_that_would_mean_no_limit_or_no_deadline(changes, says):
    from control.service_settings import columns

    with pytest.raises(ValidationError, match=says):
        columns(changes)


def test_a_url_without_scheme_gets_a_suggestion():
    with pytest.raises(ValidationError, match=r"did you mean https://github.com/me/app \?"):
        v.repo_url("github.com/me/app")


def test_a_dumb_http_git_server_is_cloned_whole_instead_of_failing(tmp_path):
    """Found in a trial: a repository served as static files (`git update-server-info` and any web
    server) failed with "dumb http transport does not support shallow capabilities"."""
    import functools
    import http.server
    import subprocess
    import threading

    git = lambda *a, cwd=tmp_path: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True,
                                                  env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                       "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                                                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"})
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.html").write_text("hi")
    git("init", "-q", "-b", "main", cwd=tmp_path / "src")
    git("add", ".", cwd=tmp_path / "src")
    git("commit", "-q", "-m", "one", cwd=tmp_path / "src")
    git("clone", "-q", "--bare", "src", "site.git")
    git("update-server-info", cwd=tmp_path / "site.git")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    class Log:
        lines: list[str] = []

        def line(self, text):
            self.lines.append(text)
    try:
        plan = clone.ClonePlan(f"http://127.0.0.1:{srv.server_address[1]}/site.git", "main", tmp_path / "out", 60,
                               max_mb=50)
        sha = clone.run(plan, Log())
    finally:
        srv.shutdown()
    assert len(sha) == 40 and (tmp_path / "out" / "index.html").read_text() == "hi"
    assert any("dumb HTTP" in ln for ln in Log.lines)


def test_a_live_route_answers_with_its_own_address_whatever_the_targets_say():
    """Found in review: a stale container with a reused deployment number could shadow the live one."""
    import struct

    from edge import dns

    packet = dns.answer(dns.query("d7.test.rl.internal", 1), TABLE, "test", {7: "172.18.0.99"})
    assert packet.endswith(bytes([172, 18, 0, 9])) and struct.unpack(">H", packet[6:8])[0] == 1


@pytest.mark.parametrize("targets", [["x"], {"7": None}, "nope"])
def test_a_route_table_with_odd_targets_still_routes(tmp_path, targets):
    """Found in review: a list for "targets" raised AttributeError and stopped every DNS answer."""
    from edge import table

    path = tmp_path / "routes.json"
    path.write_text(json.dumps({"routes": [r.to_dict() for r in TABLE.values()], "targets": targets}))
    t = table.Table(path)
    assert t.routes()["web"].upstream == "172.18.0.9:3000" and t.targets() == {}
