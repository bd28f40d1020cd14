"""Crash recovery and clean-up against the real platform: a worker killed with SIGKILL in the
middle of a build, containers nobody knows, a clone over the size limit, a full disk."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests import samples
from tests.conftest import edge_get, eventually, wait_deploy

pytestmark = pytest.mark.e2e


def our_dirs(instance: str, service: str) -> list[str]:
    return [p.name for p in Path(tempfile.gettempdir()).glob(f"rl-{instance}.{service}.*")]


def test_worker_killed_mid_build_is_recovered(api, project, git_server, platform_up, docker_client):
    url = git_server.create("phoenix", samples.python_app("before"))
    api.post("/api/services", {"project": project, "name": "phoenix", "repo_url": url})
    assert wait_deploy(api, api.post("/api/services/phoenix/deploy")["id"])["status"] == "SUCCESS"

    git_server.commit("phoenix", {"Dockerfile": samples.dockerfile(extra="RUN echo building && sleep 300\n")})
    dep = api.post("/api/services/phoenix/deploy")["id"]
    assert eventually(lambda: any("sleep 300" in ln for ln in api.get(f"/api/deployments/{dep}")["log_lines"]), 60)
    pids = json.loads((platform_up.data_dir / "pids.json").read_text())
    os.killpg(pids["children"]["worker"], signal.SIGKILL)

    d = eventually(lambda: (x := api.get(f"/api/deployments/{dep}"))["status"] == "FAILED" and x, 60)
    assert d, "a deployment whose worker died does not stay BUILDING"
    assert d["failure_stage"] == "worker" and "stopped (crash or restart)" in d["failure_reason"]
    assert edge_get(platform_up, "phoenix").text == "hello from before\n"
    build_steps = lambda: [c for c in docker_client.containers.list()
                           if "sleep 300" in " ".join(c.attrs["Config"].get("Cmd") or [])]
    assert eventually(lambda: not build_steps(), 30), "the build's RUN container was stopped"
    assert eventually(lambda: not our_dirs(platform_up.instance, "phoenix"), 30), "its temporary folder was removed"

    # The supervisor restarted the worker: the next deploy runs.
    git_server.commit("phoenix", {"Dockerfile": samples.dockerfile(), "version.txt": "after\n"})
    d = wait_deploy(api, api.post("/api/services/phoenix/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, "phoenix").text == "hello from after\n"
    assert "worker exited with code" in (platform_up.data_dir / "logs" / "supervisor.log").read_text()


def test_containers_nobody_knows_are_removed(platform_up, docker_client, base_images):
    stray = docker_client.containers.run(
        base_images["python"], ["sleep", "600"], detach=True, name="rl-test-stray-424242",
        labels={"renderlite.managed": "true", "renderlite.instance": "test", "renderlite.service": "stray",
                "renderlite.deployment": "424242", "renderlite.port": "3000"})
    other = docker_client.containers.run(base_images["python"], ["sleep", "600"], detach=True,
                                         labels={"renderlite.managed": "true", "renderlite.instance": "someone-else"})
    try:
        gone = lambda: not docker_client.containers.list(all=True, filters={"id": stray.id})
        assert eventually(gone, 40), "the janitor removes a labelled container no deployment explains"
        other.reload()
        assert other.status == "running", "another installation's containers are never touched"
    finally:
        for c in (stray, other):
            try:
                c.remove(force=True)
            except Exception:
                pass


def unqueued_deployment(platform_up, api, project, git_server, name, files, **overrides):
    """A service and a deployment row that is never queued (the platform's worker never sees it), and a
    Platform with this test's own settings to run it here, on the real DB, Redis and Docker."""
    from core.wiring import build
    from models.db import session
    from models.tables import Deployment, Service
    from sqlmodel import select

    url = git_server.create(name, files)
    api.post("/api/services", {"project": project, "name": name, "repo_url": url})
    p = build(dataclasses.replace(platform_up, **overrides))
    with session(p.engine) as db:
        svc = db.exec(select(Service).where(Service.name == name)).one()
        dep = Deployment(service_id=svc.id)
        db.add(dep)
        db.commit()
        db.refresh(dep)
    return p, dep.id


def run_in_process(platform_up, api, project, git_server, name, files, **overrides):
    """Deploy with this test's own settings; it must fail. Returns the deployment as the API shows it."""
    from jobs import pipeline

    p, dep_id = unqueued_deployment(platform_up, api, project, git_server, name, files, **overrides)
    assert pipeline.deploy_locked(p, dep_id, wait=30) == "FAILED"
    return api.get(f"/api/deployments/{dep_id}")


def test_clone_over_the_size_limit_fails_with_its_size(api, project, git_server, platform_up):
    files = dict(samples.python_app("big"), **{"blob.txt": os.urandom(3 * 1024 * 1024).hex()})   # 6 MB of hex
    d = run_in_process(platform_up, api, project, git_server, "bigrepo", files, clone_max_mb=2)
    assert d["failure_stage"] == "clone"
    assert "MB, over the 2 MB limit" in d["failure_reason"] and "RENDERLITE_CLONE_MAX_MB" in d["failure_reason"]
    assert not our_dirs(platform_up.instance, "bigrepo")


def test_build_refused_when_the_disk_is_nearly_full(api, project, git_server, platform_up):
    d = run_in_process(platform_up, api, project, git_server, "diskfull", samples.python_app("x"),
                       min_free_disk_mb=10 ** 9)
    assert d["failure_stage"] == "disk"
    assert "below the 1000000000 MB RenderLite keeps free" in d["failure_reason"]
    assert "RENDERLITE_MIN_FREE_DISK_MB" in d["failure_reason"]


def test_queued_deployment_survives_redis_losing_its_message(api, project, git_server, platform_up, test_env):
    import redis

    url = git_server.create("patient", samples.python_app("waited"))
    api.post("/api/services", {"project": project, "name": "patient", "repo_url": url})
    worker = json.loads((platform_up.data_dir / "pids.json").read_text())["children"]["worker"]
    os.killpg(worker, signal.SIGSTOP)          # the worker is busy elsewhere: the deployment waits in the queue
    try:
        dep = api.post("/api/services/patient/deploy")["id"]
        redis.Redis.from_url(test_env["REDIS_URL"]).flushdb()   # what a Redis restart without persistence does
    finally:
        os.killpg(worker, signal.SIGCONT)
    d = wait_deploy(api, dep, timeout=150)
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, "patient").text == "hello from waited\n"


def test_root_image_is_refused_when_the_installation_enforces_non_root(api, project, git_server, platform_up):
    files = {"Dockerfile": f"FROM {samples.PY_BASE}\nWORKDIR /app\nCOPY . .\nCMD [\"python\", \"app.py\"]\n",
             "app.py": samples.HTTP_APP, "version.txt": "root\n"}
    d = run_in_process(platform_up, api, project, git_server, "rooty", files, require_non_root=True)
    assert d["failure_stage"] == "build" and d["runs_as_root"] is True
    assert "runs as root" in d["failure_reason"] and "USER" in d["failure_reason"]


def test_submodules_from_the_same_host_are_fetched_and_others_refused(api, project, git_server, platform_up):
    sub_url = git_server.create("libsub", {"greeting.txt": "from a submodule\n"})
    sub_sha = git_server._git("rev-parse", "HEAD", cwd=git_server.work / "libsub").strip()

    def superproject(name: str, url: str) -> str:
        files = samples.python_app("super")
        files["Dockerfile"] = samples.dockerfile(extra="RUN cp lib/greeting.txt version.txt\n")
        files[".gitmodules"] = f'[submodule "lib"]\n\tpath = lib\n\turl = {url}\n'
        repo = git_server.create(name, files)
        wt = git_server.work / name
        git_server._git("update-index", "--add", "--cacheinfo", f"160000,{sub_sha},lib", cwd=wt)
        git_server._git("commit", "-q", "-m", "add submodule", cwd=wt)
        git_server._git("push", "-q", "origin", "HEAD:main", cwd=wt)
        api.post("/api/services", {"project": project, "name": name, "repo_url": repo})
        api.call("PATCH", f"/api/services/{name}", json={"submodules": "true"})
        return name

    good = superproject("withsub", sub_url)
    d = wait_deploy(api, api.post(f"/api/services/{good}/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, good).text == "hello from from a submodule\n"

    bad = superproject("evilsub", "http://127.0.0.2:9/secret.git")
    d = wait_deploy(api, api.post(f"/api/services/{bad}/deploy")["id"])
    assert d["status"] == "FAILED" and d["failure_stage"] == "clone"
    assert "not at the repository's own host (127.0.0.1)" in d["failure_reason"]


def test_an_image_that_brings_its_own_routing_labels_is_refused(api, project, git_server, platform_up):
    """Docker merges image labels into the container's: a Dockerfile could add a Traefik router for
    another service's host (found by a security review)."""
    files = samples.python_app("hijack", extra="LABEL traefik.http.routers.evil.rule=\"Host(`victim.localhost`)\" "
                                              "traefik.http.routers.evil.priority=100000\n")
    d = run_in_process(platform_up, api, project, git_server, "hijacker", files)
    assert d["failure_stage"] == "build"
    assert "routing labels RenderLite owns (traefik.http.routers.evil.priority, traefik.http.routers.evil.rule)" \
        in d["failure_reason"]


def test_a_reused_deployment_number_inherits_no_log_and_no_cancel_request(api, project, git_server, platform_up,
                                                                          test_env):
    """Found in a trial: SQLite reuses the highest id after a delete (and a wiped database starts again),
    so a new deployment showed a deleted service's build log and was cancelled by its old request."""
    import redis

    from jobs import pipeline

    p, dep_id = unqueued_deployment(platform_up, api, project, git_server, "renumbered", samples.python_app("fresh"))
    r = redis.Redis.from_url(test_env["REDIS_URL"])
    r.rpush(f"{platform_up.redis_prefix}log:{dep_id}", "00:00:00 ==> Routed someone-else.localhost")
    r.set(f"{platform_up.redis_prefix}cancel:{dep_id}", "1")
    assert pipeline.deploy_locked(p, dep_id, wait=30) == "SUCCESS"
    log = "\n".join(api.get(f"/api/deployments/{dep_id}")["log_lines"])
    assert "someone-else" not in log and edge_get(platform_up, "renumbered").text == "hello from fresh\n"


def test_deleting_a_service_while_it_builds_cancels_the_build(api, project, git_server, platform_up, docker_client):
    url = git_server.create("shortlived", samples.python_app("x", extra="RUN sleep 120\n"))
    api.post("/api/services", {"project": project, "name": "shortlived", "repo_url": url})
    dep = api.post("/api/services/shortlived/deploy")["id"]
    assert eventually(lambda: any("sleep 120" in ln for ln in api.get(f"/api/deployments/{dep}")["log_lines"]), 60)
    t = time.monotonic()
    api.call("DELETE", "/api/services/shortlived")
    assert time.monotonic() - t < 30
    assert api.get("/api/services").__class__ is list and not [
        s for s in api.get("/api/services") if s["name"] == "shortlived"]
    assert eventually(lambda: not docker_client.containers.list(
        filters={"label": ["renderlite.instance=test", "renderlite.service=shortlived"]}), 20)


def test_a_user_name_mapped_to_uid_0_is_caught_when_the_app_runs(api, project, git_server, platform_up):
    """USER toor looks harmless in the image's config; /proc says uid 0 (found by a security review)."""
    files = {"Dockerfile": f"FROM {samples.PY_BASE}\nRUN useradd -o -u 0 -g 0 toor\nWORKDIR /app\nCOPY . .\n"
                           "USER toor\nCMD [\"python\", \"app.py\"]\n",
             "app.py": samples.HTTP_APP, "version.txt": "toor\n"}
    d = run_in_process(platform_up, api, project, git_server, "tooruser", files, require_non_root=True)
    assert d["failure_stage"] == "run" and d["runs_as_root"] is True
    assert "runs as root (uid 0)" in d["failure_reason"]


def test_a_failure_after_the_switch_never_removes_the_version_just_made_live(api, project, git_server, platform_up,
                                                                            monkeypatch, docker_client):
    """Found in review: publishing the routes failed after the service already pointed at the new
    container, and the failure handler removed that container: the service pointed at nothing."""
    from jobs import pipeline

    from edge import table

    def broken_publish(*_args, **_kw):
        raise OSError("No space left on device: routes.json")

    p, dep_id = unqueued_deployment(platform_up, api, project, git_server, "aftershock", samples.python_app("shock"))
    monkeypatch.setattr(table, "publish", broken_publish)   # in this process only: the edge watcher still works
    assert pipeline.deploy_locked(p, dep_id, wait=30) == "SUCCESS"
    d = api.get(f"/api/deployments/{dep_id}")
    assert d["status"] == "SUCCESS" and api.get("/api/services/aftershock")["status"] == "running"
    assert docker_client.containers.get(f"rl-test-aftershock-{dep_id}").status == "running"
    # the edge watcher publishes the route from the database
    assert eventually(lambda: edge_get(platform_up, "aftershock").text == "hello from shock\n", 20)


def another_deployment(p, name: str, **values) -> int:
    """One more deployment row of the service, never queued (run it with deploy_locked)."""
    from models.db import session
    from models.tables import Deployment, Service
    from sqlmodel import select

    with session(p.engine) as db:
        dep = Deployment(service_id=db.exec(select(Service).where(Service.name == name)).one().id, **values)
        db.add(dep)
        db.commit()
        db.refresh(dep)
        return dep.id


def test_the_edge_routes_to_a_deployment_before_it_reads_success(api, project, git_server, platform_up, monkeypatch):
    """Found by CI: a first deploy read SUCCESS and the request right after got the 503 page, because
    the routes were published only after the commit (and after the workdir was removed). The edge is
    now switched first and the database commits under the same lock."""
    from control import deployments as ctl
    from edge import table
    from jobs import pipeline

    seen = {}
    real = ctl.go_live

    def observed_go_live(db, dep_id, service_id, **values):
        seen.update(routes={r.subdomain: r for r in table.read(platform_up.routes_file)})
        return real(db, dep_id, service_id, **values)

    p, dep_id = unqueued_deployment(platform_up, api, project, git_server, "firstlight", samples.python_app("dawn"))
    monkeypatch.setattr(ctl, "go_live", observed_go_live)
    assert pipeline.deploy_locked(p, dep_id, wait=30) == "SUCCESS"
    route = seen["routes"]["firstlight"]
    assert (route.deployment_id, route.state) == (dep_id, "running") and route.ip and route.port
    assert edge_get(platform_up, "firstlight").text == "hello from dawn\n"


def test_a_switch_refused_at_the_commit_leaves_the_old_version_routed(api, project, git_server, platform_up,
                                                                      monkeypatch):
    """The edge is switched just before the commit; when the commit is refused (the deployment was
    cancelled at that moment) the table is rebuilt from the database before anyone else writes it."""
    from control import deployments as ctl
    from edge import table
    from jobs import pipeline

    p, first = unqueued_deployment(platform_up, api, project, git_server, "refusal", samples.python_app("kept"))
    assert pipeline.deploy_locked(p, first, wait=30) == "SUCCESS"
    second = another_deployment(p, "refusal")
    monkeypatch.setattr(ctl, "go_live", lambda db, dep_id, service_id, **values: False)
    assert pipeline.deploy_locked(p, second, wait=30) == "FAILED"
    route = {r.subdomain: r for r in table.read(platform_up.routes_file)}["refusal"]
    assert route.deployment_id == first and route.ip
    assert "the live version was not switched" in api.get(f"/api/deployments/{second}")["failure_reason"]
    assert edge_get(platform_up, "refusal").text == "hello from kept\n"


def test_a_redeploy_waits_for_the_deploy_queued_before_it(api, project, git_server, platform_up):
    """Found in review: the worker fetches several messages at once, so a redeploy pressed right after
    a deploy could run first and redeploy the old version, then the deploy replaced it."""
    from jobs import pipeline
    from models.tables import REDEPLOY

    p, first = unqueued_deployment(platform_up, api, project, git_server, "inorder", samples.python_app("one"))
    assert pipeline.deploy_locked(p, first, wait=30) == "SUCCESS"
    git_server.commit("inorder", {"version.txt": "two\n"})
    deploy = another_deployment(p, "inorder")
    again = another_deployment(p, "inorder", kind=REDEPLOY, source_deployment_id=first)
    assert pipeline.deploy_locked(p, again, wait=30) is None, "it must wait for the deploy queued before it"
    assert api.get(f"/api/deployments/{again}")["status"] == "QUEUED"
    assert pipeline.deploy_locked(p, deploy, wait=30) == "SUCCESS"
    assert pipeline.deploy_locked(p, again, wait=30) == "SUCCESS"
    assert api.get(f"/api/deployments/{again}")["redeploy_of"] == deploy
    assert edge_get(platform_up, "inorder").text == "hello from two\n"


def test_retiring_spares_a_container_created_after_the_switch(api, project, git_server, platform_up, monkeypatch,
                                                              docker_client, base_images):
    """Found in review: the drain thread listed the service's containers when it ran, after the lock
    was free, so the next deploy's new container could be among the "old" ones and be stopped."""
    from jobs import pipeline

    captured, retire = [], pipeline.retire_old

    p, first = unqueued_deployment(platform_up, api, project, git_server, "successor", samples.python_app("one"))
    assert pipeline.deploy_locked(p, first, wait=30) == "SUCCESS"
    second = another_deployment(p, "successor")
    monkeypatch.setattr(pipeline, "retire_old", lambda *args: captured.append(args))   # held back: the next deploy comes first
    assert pipeline.deploy_locked(p, second, wait=30) == "SUCCESS"
    monkeypatch.undo()
    old = docker_client.containers.get(f"rl-test-successor-{first}")
    labels = docker_client.containers.get(f"rl-test-successor-{second}").labels
    newcomer = docker_client.containers.run(base_images["python"], ["sleep", "120"], labels=labels, detach=True,
                                            name="rl-test-successor-newcomer")
    try:
        retire(*captured[-1])
        newcomer.reload()
        assert newcomer.status == "running", "the next deploy's container was retired"
        assert not docker_client.containers.list(all=True, filters={"id": old.id}), "the old one was retired"
    finally:
        newcomer.remove(force=True)
