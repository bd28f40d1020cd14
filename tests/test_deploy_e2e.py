"""End to end through the real platform: `up`, the API, the worker, Docker, Caddy and git."""
from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests import samples
from tests.conftest import ROOT, edge_get, eventually, wait_deploy

pytestmark = pytest.mark.e2e


def create_service(api, project, git_server, name, files, **extra) -> str:
    url = git_server.create(name, files)
    api.post("/api/services", {"project": project, "name": name, "repo_url": url, **extra})
    return url


def deploy(api, name) -> dict:
    return wait_deploy(api, api.post(f"/api/services/{name}/deploy")["id"])


class Listed:
    def __init__(self, row):
        self.name = row["Names"][0].lstrip("/")


def app_containers(docker_client, name):
    """From the list endpoint only (no inspect): a container retired meanwhile cannot make it fail."""
    rows = docker_client.api.containers(all=True, filters={"label": ["renderlite.instance=test",
                                                                     f"renderlite.service={name}"]})
    return [Listed(r) for r in rows]


def test_api_requires_the_token(platform_up):
    r = httpx.get(f"{platform_up.web_url}/api/projects", timeout=10)
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = httpx.get(f"{platform_up.web_url}/api/projects", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert r.status_code == 401


def test_bad_repo_url_is_refused_when_saved(api, project):
    r = httpx.post(f"{api.base}/api/services", headers={"Authorization": f"Bearer {api.token}"}, timeout=10,
                   json={"project": project, "name": "evil", "repo_url": "file:///etc"})
    assert r.status_code == 422 and "file://" in r.json()["error"]


def test_deploy_redeploy_and_old_container_gone(api, project, git_server, platform_up, docker_client, base_images):
    # A tag no deployment record knows (left by an earlier database): pruned, never kept as "recent".
    docker_client.images.get(base_images["python"]).tag("renderlite-test/hello", "999")
    create_service(api, project, git_server, "hello", samples.python_app("v1"))
    d1 = deploy(api, "hello")
    assert d1["status"] == "SUCCESS", d1["failure_reason"]
    assert len(d1["commit_sha"]) == 40
    r = edge_get(platform_up, "hello")
    assert r.status_code == 200 and r.text == "hello from v1\n"
    assert api.get("/api/services/hello")["url"] == "http://hello.localhost:18080"

    git_server.commit("hello", {"version.txt": "v2\n"})
    d2 = deploy(api, "hello")
    assert d2["status"] == "SUCCESS", d2["failure_reason"]
    assert d2["commit_sha"] != d1["commit_sha"]
    assert edge_get(platform_up, "hello").text == "hello from v2\n"
    # The old container serves in-flight requests for the drain period, then it is removed.
    assert eventually(lambda: [c.name for c in app_containers(docker_client, "hello")] == [f"rl-test-hello-{d2['id']}"],
                      platform_up.drain_seconds + 20), [c.name for c in app_containers(docker_client, "hello")]
    log = api.get(f"/api/deployments/{d2['id']}")["log_lines"]
    assert any("Step" in line for line in log), "build output streams into the deployment log"
    tags = sorted(t for img in docker_client.images.list(name="renderlite-test/hello") for t in img.tags)
    assert tags == [f"renderlite-test/hello:{d1['id']}", f"renderlite-test/hello:{d2['id']}"]


def test_broken_builds_keep_the_old_version_serving(api, project, git_server, platform_up, docker_client):
    create_service(api, project, git_server, "steady", samples.python_app("good"))
    good = deploy(api, "steady")
    assert good["status"] == "SUCCESS", good["failure_reason"]

    git_server.commit("steady", {"Dockerfile": samples.dockerfile(extra="RUN echo compiler-says-no && exit 3\n")})
    bad = deploy(api, "steady")
    assert bad["status"] == "FAILED" and bad["failure_stage"] == "build"
    assert "RUN echo compiler-says-no && exit 3" in bad["failure_reason"] and "non-zero code: 3" in bad["failure_reason"]
    assert "(last output: compiler-says-no)" in bad["failure_reason"], "the cause, not only the step, is in the reason"
    assert edge_get(platform_up, "steady").text == "hello from good\n"

    git_server.commit("steady", {"Dockerfile": "FROM renderlite-base/python:3.11\nBOGUS instruction\n"})
    bad = deploy(api, "steady")
    assert bad["status"] == "FAILED" and bad["failure_stage"] == "build"
    assert "bogus" in bad["failure_reason"].lower()
    assert edge_get(platform_up, "steady").text == "hello from good\n"

    # The failed deployments left no container or image behind.
    assert [c.name for c in app_containers(docker_client, "steady")] == [f"rl-test-steady-{good['id']}"]
    tags = [t for img in docker_client.images.list(name="renderlite-test/steady") for t in img.tags]
    assert tags == [f"renderlite-test/steady:{good['id']}"]


def test_app_that_exits_or_never_listens_fails_and_old_keeps_serving(api, project, git_server, platform_up):
    create_service(api, project, git_server, "fragile", samples.python_app("ok"))
    assert deploy(api, "fragile")["status"] == "SUCCESS"

    git_server.commit("fragile", {"Dockerfile": samples.dockerfile(cmd='["python", "-c", "import sys; print(\'boom\'); sys.exit(4)"]')})
    d = deploy(api, "fragile")
    assert d["status"] == "FAILED" and d["failure_stage"] == "run"
    assert "exited with code 4" in d["failure_reason"] and "boom" in d["failure_reason"]
    assert edge_get(platform_up, "fragile").text == "hello from ok\n"

    git_server.commit("fragile", {"Dockerfile": samples.dockerfile(cmd='["python", "-c", "import time; time.sleep(600)"]')})
    d = deploy(api, "fragile")
    assert d["status"] == "FAILED" and "did not pass its health check on port 3000" in d["failure_reason"]
    assert "not listening on any TCP port" in d["failure_reason"]
    assert "raise the service's health_start_period" in d["failure_reason"], "a slow start is one cause (a trial)"
    assert edge_get(platform_up, "fragile").text == "hello from ok\n"

    git_server.commit("fragile", {"Dockerfile": samples.dockerfile(extra="ENV BIND=127.0.0.1\n")})
    d = deploy(api, "fragile")
    assert d["status"] == "FAILED" and "listens on 127.0.0.1:3000" in d["failure_reason"]
    assert d["duration_s"] < 15, "a loopback-only app fails within seconds, not at the end of the start period"
    assert "0.0.0.0" in d["failure_reason"]
    assert edge_get(platform_up, "fragile").text == "hello from ok\n"


def test_unknown_branch_and_unreachable_repo_fail_at_clone(api, project, git_server):
    create_service(api, project, git_server, "branchy", samples.python_app(), branch="does-not-exist")
    d = deploy(api, "branchy")
    assert d["status"] == "FAILED" and d["failure_stage"] == "clone"
    assert "branch 'does-not-exist' not found" in d["failure_reason"]
    assert "its branches are: main (default)" in d["failure_reason"]

    api.post("/api/services", {"project": project, "name": "nowhere", "repo_url": "git://127.0.0.1:9/none.git"})
    d = deploy(api, "nowhere")
    assert d["status"] == "FAILED" and d["failure_stage"] == "clone" and "cannot connect" in d["failure_reason"]


def test_nothing_to_build_says_what_to_do(api, project, git_server):
    create_service(api, project, git_server, "nodocker", {"app.py": "print(1)\n"})
    d = deploy(api, "nodocker")
    assert d["status"] == "FAILED" and d["failure_stage"] == "build"
    assert "no Dockerfile and nothing RenderLite recognises" in d["failure_reason"]
    assert "add a Dockerfile" in d["failure_reason"]


def test_root_directory_is_the_build_context(api, project, git_server, platform_up):
    files = {f"apps/web/{k}": v for k, v in samples.python_app("mono").items()}
    files["README.md"] = "monorepo\n"
    create_service(api, project, git_server, "mono", files, root_dir="apps/web")
    d = deploy(api, "mono")
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, "mono").text == "hello from mono\n"


def test_cli_deploy_wait_exit_status_and_status(test_env, api, project, git_server):
    url = git_server.create("clisvc", samples.python_app("cli"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "cli", *a], cwd=ROOT, env=test_env,
                                    capture_output=True, text=True, timeout=300)
    r = run("services", "create", "--project", project, "--name", "clisvc", "--repo", url)
    assert r.returncode == 0, r.stderr
    r = run("deploy", "clisvc", "--wait")
    assert r.returncode == 0, r.stderr
    assert "SUCCESS: http://clisvc.localhost:18080" in r.stdout
    r = run("status", "clisvc")
    assert "running" in r.stdout and "http://clisvc.localhost:18080" in r.stdout

    git_server.commit("clisvc", {"Dockerfile": samples.dockerfile(extra="RUN false\n")})
    r = run("deploy", "clisvc", "--wait")
    assert r.returncode == 1 and "FAILED at build" in r.stderr


def test_cli_project_delete_refuses_while_it_has_services(test_env, api, git_server):
    run = lambda *a: subprocess.run([sys.executable, "-m", "cli", *a], cwd=ROOT, env=test_env,
                                    capture_output=True, text=True, timeout=120)
    assert run("projects", "create", "scratch").returncode == 0
    api.post("/api/services", {"project": "scratch", "name": "scratch-web",
                               "repo_url": git_server.create("scratch-web", samples.python_app("s"))})
    r = run("projects", "delete", "scratch")
    assert r.returncode == 1 and "still has 1 service(s) (scratch-web); delete them first" in r.stderr, r.stderr
    assert "scratch" in run("projects", "list").stdout.split()
    assert run("delete", "scratch-web").returncode == 0
    r = run("projects", "delete", "scratch")
    assert r.returncode == 0 and "deleted project scratch" in r.stdout, r.stderr
    assert "scratch" not in run("projects", "list").stdout.split()
    r = run("projects", "delete", "scratch")
    assert r.returncode == 1 and "project 'scratch' not found" in r.stderr


def test_unknown_host_gets_a_clear_404(platform_up):
    r = edge_get(platform_up, "no-such-app")
    assert r.status_code == 404 and "No RenderLite service" in r.text


def test_unset_port_uses_expose_then_discovers_the_listening_port(api, project, git_server, platform_up):
    # EXPOSE 8000 and no port setting: PORT=8000 and the edge routes there.
    create_service(api, project, git_server, "exposed", samples.python_app("exposed", extra="EXPOSE 8000\n"))
    d = deploy(api, "exposed")
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert d["port"] == 8000 and edge_get(platform_up, "exposed").text == "hello from exposed\n"

    # No EXPOSE, and the app ignores $PORT: RenderLite finds the one port it listens on.
    stubborn = samples.python_app("stubborn", cmd='["sh", "-c", "PORT=5005 exec python app.py"]')
    create_service(api, project, git_server, "stubborn", stubborn)
    d = deploy(api, "stubborn")
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert d["port"] == 5005 and edge_get(platform_up, "stubborn").text == "hello from stubborn\n"
    log = "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    assert "listens on port 5005, not on $PORT (3000)" in log


def test_rollback_errors_are_clear(api, project, git_server):
    create_service(api, project, git_server, "norollback", samples.python_app("only"))
    r = httpx.post(f"{api.base}/api/services/norollback/rollback", headers={"Authorization": f"Bearer {api.token}"},
                   json={}, timeout=10)
    assert r.status_code == 404 and "no earlier successful deployment" in r.json()["error"]
    d = deploy(api, "norollback")
    r = httpx.post(f"{api.base}/api/services/norollback/rollback", headers={"Authorization": f"Bearer {api.token}"},
                   json={"deployment_id": d["id"]}, timeout=10)
    assert r.status_code == 422 and "already live" in r.json()["error"]


def test_cancel_a_running_build_from_the_cli_and_list_the_history(test_env, api, project, git_server, platform_up):
    url = git_server.create("cancelme", samples.python_app("kept"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "cli", *a], cwd=ROOT, env=test_env,
                                    capture_output=True, text=True, timeout=300)
    api.post("/api/services", {"project": project, "name": "cancelme", "repo_url": url})
    assert deploy(api, "cancelme")["status"] == "SUCCESS"
    git_server.commit("cancelme", {"Dockerfile": samples.dockerfile(extra="RUN sleep 120\n")})
    dep = api.post("/api/services/cancelme/deploy")["id"]
    assert eventually(lambda: api.get(f"/api/deployments/{dep}")["status"] == "BUILDING", 30)
    r = run("cancel", "cancelme")
    assert r.returncode == 0 and f"deployment #{dep}: CANCELLING" in r.stdout, r.stderr
    d = wait_deploy(api, dep, timeout=60)
    assert d["status"] == "FAILED" and d["failure_stage"] == "cancelled"
    assert edge_get(platform_up, "cancelme").text == "hello from kept\n"
    r = run("deployments", "cancelme")
    assert f"#{dep}" in r.stdout and "cancelled by a user" in r.stdout
    r = run("cancel", "cancelme")
    assert r.returncode == 1 and "no queued or running deployment" in r.stderr


def test_cli_env_names_are_one_path_segment_and_a_bad_pair_saves_nothing(test_env, api, project, git_server, tmp_path):
    """Found in review and a trial: `env unset web ../../other` deleted the service `other`; `env set`
    saved the pairs before a bad one; `@value` could not be set and a missing file gave a raw errno."""
    run = lambda *a: subprocess.run([sys.executable, "-m", "cli", *a], cwd=ROOT, env=test_env,
                                    capture_output=True, text=True, timeout=60)
    for name in ("envcli", "bystander"):
        api.post("/api/services", {"project": project, "name": name, "repo_url": git_server.create(name, samples.python_app("x"))})
    r = run("logs", "envcli")   # never deployed: say so, not an empty success (found in a trial)
    assert r.returncode == 1 and "no live deployment" in r.stderr and "./renderlite deploy envcli" in r.stderr
    r = run("env", "unset", "envcli", "../../bystander")
    assert r.returncode == 1 and "bystander" in [s["name"] for s in api.get("/api/services")]
    r = run("delete", "nosuch/../bystander")   # past env's own checks: the name itself must stay one segment
    assert r.returncode == 1 and "bystander" in [s["name"] for s in api.get("/api/services")]

    r = run("env", "set", "envcli", "GOOD=1", "1BAD=x")
    assert r.returncode == 1 and "nothing was saved" in r.stderr and api.get("/api/services/envcli/env") == []
    r = run("env", "set", "envcli", "HANDLE=@notafile")
    assert r.returncode == 1 and "no such file" in r.stderr and "HANDLE=@@notafile" in r.stderr
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00binary")
    r = run("env", "set", "envcli", f"BLOB=@{tmp_path / 'bin'}")
    assert r.returncode == 1 and "UTF-8" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "pem").write_text("-----BEGIN X-----\nabc\n-----END X-----\n")
    r = run("env", "set", "envcli", "HANDLE=@@me", f"PEM=@{tmp_path / 'pem'}")
    assert r.returncode == 0, r.stderr
    assert api.get("/api/services/envcli/env/HANDLE/reveal")["value"] == "@me"
    assert api.get("/api/services/envcli/env/PEM/reveal")["value"] == "-----BEGIN X-----\nabc\n-----END X-----\n"
    r = run("env", "unset", "envcli", "HANDLE", "NOPE")   # all or nothing too (found in a trial)
    assert r.returncode == 1 and "no variable NOPE; nothing was removed" in r.stderr
    assert {row["key"] for row in api.get("/api/services/envcli/env")} == {"HANDLE", "PEM"}


def test_malformed_api_requests_get_422_naming_the_field_and_change_nothing(api, project, git_server):
    """Found in a trial and a review: missing fields, JSON lists and non-numeric query values gave 500."""
    auth = {"Authorization": f"Bearer {api.token}"}
    call = lambda method, path, **kw: httpx.request(method, f"{api.base}{path}", headers=auth, timeout=10, **kw)
    r = call("POST", "/api/services", json=["x"])
    assert r.status_code == 400 and "must be a JSON object" in r.json()["error"]
    r = call("POST", "/api/services", json={"name": "x1"})
    assert r.status_code == 422 and "missing project, repo_url" in r.json()["error"]
    r = call("POST", "/api/services", json={"project": project, "name": "x2", "repo_url": ["http://h/x"]})
    assert r.status_code == 422 and "'repo_url' must be a string" in r.json()["error"]
    for odd in ("abc", "²"):   # "²".isdigit() is True, int("²") fails (found in review)
        r = call("GET", "/api/deployments/1", params={"log_from": odd})
        assert r.status_code == 422 and "log_from" in r.json()["error"]
    create_service(api, project, git_server, "patchy", samples.python_app("x"))
    r = call("PATCH", "/api/services/patchy", json={"memory_mb": 300, "subdomain": "Not A Name!"})
    assert r.status_code == 422 and api.get("/api/services/patchy")["memory_mb"] != 300, "nothing saved"
    r = call("PATCH", "/api/services/patchy", json={"memory_mb": 300, "submodules": True})
    assert r.status_code == 200 and r.json()["memory_mb"] == 300


def test_an_app_on_another_port_than_the_service_says_is_reported_while_it_waits(api, project, git_server):
    """Found in a trial: with the port set to 3000 and the app on 5005, the deploy waited out the whole
    start period in silence. It still waits (a metrics or debug port can come up before the app's own:
    a review), but the live log says what it sees within seconds."""
    files = samples.python_app("elsewhere", cmd='["sh", "-c", "PORT=5005 exec python app.py"]')
    api.post("/api/services", {"project": project, "name": "elsewhere", "repo_url": git_server.create("elsewhere", files),
                               "port": 3000})
    api.call("PATCH", "/api/services/elsewhere", json={"health_start_period": "15"})
    dep = api.post("/api/services/elsewhere/deploy")["id"]
    said = eventually(lambda: any("not on port 3000" in ln and "still waiting" in ln
                                  for ln in api.get(f"/api/deployments/{dep}")["log_lines"]), 60, step=0.5)
    assert said and api.get(f"/api/deployments/{dep}")["status"] == "BUILDING", "said before the deadline"
    d = wait_deploy(api, dep)
    assert d["status"] == "FAILED" and d["failure_stage"] == "run"
    assert "listens on 0.0.0.0:5005, not on port 3000; set the service's port to 5005" in d["failure_reason"]


def test_a_root_image_is_flagged_once(api, project, git_server, platform_up):
    """Found in a trial: the log said it twice (the image's config, then the running process)."""
    files = samples.python_app("rooted")
    files["Dockerfile"] = files["Dockerfile"].replace("USER nobody\n", "")
    create_service(api, project, git_server, "rooted", files)
    d = deploy(api, "rooted")
    assert d["status"] == "SUCCESS" and d["runs_as_root"] is True, d["failure_reason"]
    log = "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    assert log.count("runs as root") == 1, log
    assert edge_get(platform_up, "rooted").text == "hello from rooted\n"


def test_the_edge_tells_a_new_service_and_a_failed_first_deploy_at_once(api, project, git_server, platform_up):
    """Found in a trial: a bare 404 for the first seconds after create, and "being deployed" for a
    second or two after the first deploy had FAILED (the edge watcher's delay)."""
    api.post("/api/services", {"project": project, "name": "told", "branch": "nope",
                               "repo_url": git_server.create("told", samples.python_app("t"))})
    r = edge_get(platform_up, "told")
    assert r.status_code == 503 and "not deployed yet" in r.text, r.text
    d = wait_deploy(api, api.post("/api/services/told/deploy")["id"])
    assert d["status"] == "FAILED"
    r = edge_get(platform_up, "told")
    assert r.status_code == 503 and "its last deployment failed" in r.text, r.text


def test_the_procfile_release_command_runs_before_the_new_version_and_its_failure_keeps_the_old(
        api, project, git_server, platform_up, docker_client):
    """Found in a trial: Heroku-style `release: python manage.py migrate` was skipped."""
    files = {**samples.python_app("v1"), "Procfile": "web: python app.py\nrelease: echo \"migrating for $GREETING\"\n"}
    api.post("/api/services", {"project": project, "name": "released", "repo_url": git_server.create("released", files)})
    api.call("PUT", "/api/services/released/env/GREETING", json={"value": "v1 users"})
    d = wait_deploy(api, api.post("/api/services/released/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    log = "\n".join(api.get(f"/api/deployments/{d['id']}")["log_lines"])
    assert "==> Release command (Procfile release:)" in log and "migrating for v1 users" in log
    assert log.index("release command done") < log.index("==> Starting container")
    git_server.commit("released", {"version.txt": "v2\n", "Procfile": "web: python app.py\nrelease: echo broken >&2; exit 3\n"})
    d = wait_deploy(api, api.post("/api/services/released/deploy")["id"])
    assert d["status"] == "FAILED" and d["failure_stage"] == "release", d
    assert "the release command `echo broken >&2; exit 3` exited with code 3 (last output: broken)" in d["failure_reason"]
    assert edge_get(platform_up, "released").text == "hello from v1\n"
    assert not [c for c in docker_client.containers.list(all=True) if c.name.endswith(f"-{d['id']}-release")]
