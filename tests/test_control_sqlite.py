"""The zero-setup default: migrations and the control plane on an SQLite file, and the
deployment state machine (a finished deployment never changes state again) on both databases."""
from __future__ import annotations

import pytest
from sqlmodel import select

from control import deployments as ctl, projects
from core.errors import NotFound, ValidationError
from core.settings import Settings
from models.db import make_engine, migrate, session
from models.tables import Deployment, Service
from sqlmodel import delete as sql_delete


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path, test_env):
    env = {"RENDERLITE_DATA_DIR": str(tmp_path / "data")}
    if request.param == "postgres":
        from tests.conftest import PG_ADMIN
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS renderlite_unit WITH (FORCE)")
            conn.execute("CREATE DATABASE renderlite_unit")
        env["DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/renderlite_unit"
    s = Settings.from_env(env)
    migrate(s)
    migrate(s)  # idempotent
    eng = make_engine(s)
    yield eng
    eng.dispose()


def test_projects_services_and_state_machine(engine):
    with session(engine) as db:
        projects.create_project(db, "Demo")
        with pytest.raises(ValidationError, match="already exists"):
            projects.create_project(db, "demo")
        svc = projects.create_service(db, projects.ServiceInput(project="demo", name="web",
                                                                repo_url="https://example.com/a.git", port="8000"))
        assert (svc.subdomain, svc.container_port, svc.branch, svc.status) == ("web", 8000, "main", "created")
        with pytest.raises(ValidationError, match="subdomain 'web' is taken"):
            projects.create_service(db, projects.ServiceInput(project="demo", name="web2", subdomain="web",
                                                              repo_url="https://example.com/a.git"))
        with pytest.raises(NotFound, match="project 'nope' not found"):
            projects.create_service(db, projects.ServiceInput(project="nope", name="x", repo_url="https://e.com/a"))

        dep = Deployment(service_id=svc.id)
        db.add(dep)
        db.commit()
        assert ctl.start_building(db, dep.id)
        assert not ctl.start_building(db, dep.id)
        assert ctl.fail(db, dep.id, "build", "build exceeded 5 s")
        assert not ctl.succeed(db, dep.id), "a FAILED deployment never flips to SUCCESS"
        assert not ctl.fail(db, dep.id, "run", "again"), "failure is recorded exactly once"
        db.expire_all()
        d = db.exec(select(Deployment)).one()
        assert (d.status, d.failure_stage, d.failure_reason) == ("FAILED", "build", "build exceeded 5 s")


def test_an_env_value_with_a_nul_byte_is_refused_when_saved(engine, tmp_path):
    """Docker refuses such a value at start and echoed it in plain text into the deploy log."""
    from control import envvars

    s = Settings.from_env({"RENDERLITE_DATA_DIR": str(tmp_path / "keys")})
    with session(engine) as db:
        projects.create_project(db, "nul")
        svc = projects.create_service(db, projects.ServiceInput(project="nul", name="nul", repo_url="https://h/r.git"))
        with pytest.raises(ValidationError) as e:
            envvars.set_var(db, s, svc, "API_KEY", "TOPSECRET-123\x00x")
        assert "NUL byte" in str(e.value) and "TOPSECRET" not in str(e.value)


def test_an_older_waiting_deployment_never_runs_after_a_newer_one(engine):
    """Found in a trial: three quick deploys, the newest ran first, then the oldest went live over it."""
    with session(engine) as db:
        projects.create_project(db, "order")
        svc = projects.create_service(db, projects.ServiceInput(project="order", name="order", repo_url="https://h/r.git"))
        old, new = Deployment(service_id=svc.id), Deployment(service_id=svc.id)
        db.add_all([old, new])
        db.commit()
        assert ctl.newer_queued(db, old).id == new.id
        assert ctl.start_building(db, new.id) and ctl.succeed(db, new.id)
        assert ctl.newer_queued(db, old).id == new.id, "a finished newer deployment supersedes it too"
        assert ctl.newer_queued(db, new) is None
        again = Deployment(service_id=svc.id, kind="redeploy")
        db.add(again)
        db.commit()
        assert ctl.newer_queued(db, new) is None, "a redeploy queued after a deploy does not supersede it"


def test_a_cancel_racing_the_claim_still_reaches_the_build(engine, test_env, monkeypatch):
    """Found in review: a worker claimed the deployment between cancel()'s read and its update; cancel
    then said "already finished (QUEUED)" and the build went ahead."""
    import types

    import redis

    with session(engine) as db:
        projects.create_project(db, "race")
        svc = projects.create_service(db, projects.ServiceInput(project="race", name="race", repo_url="https://h/r.git"))
        dep = Deployment(service_id=svc.id)
        db.add(dep)
        db.commit()
        dep_id = dep.id
    real_fail = ctl.fail

    def claimed_meanwhile(db, i, *a, **k):
        with session(engine) as other:            # the worker's claim lands first
            assert ctl.start_building(other, i)
        return real_fail(db, i, *a, **k)
    monkeypatch.setattr(ctl, "fail", claimed_meanwhile)
    r = redis.Redis.from_url(test_env["REDIS_URL"])
    platform = types.SimpleNamespace(engine=engine, redis=r, settings=types.SimpleNamespace(redis_prefix="racetest:"))
    assert ctl.cancel(platform, dep_id) == "CANCELLING"
    assert ctl.cancel_requested(platform, dep_id)
    r.delete(f"racetest:cancel:{dep_id}")


def test_redeploys_share_their_sources_image_so_they_never_push_out_a_real_version(engine):
    """Found in a trial: with 3 images kept, two redeploys filled the history with copies of the live
    image; rollback then offered the live version itself and the real previous one was pruned."""
    with session(engine) as db:
        projects.create_project(db, "versions")
        svc = projects.create_service(db, projects.ServiceInput(project="versions", name="versions",
                                                                repo_url="https://h/r.git"))

        def success(source=None, kind=None, builds=False, origin=None) -> int:
            d = Deployment(service_id=svc.id, status="SUCCESS", source_deployment_id=source, kind=kind,
                           image_origin_id=origin)
            db.add(d)
            db.commit()
            if builds:
                d.image_origin_id = d.id
                db.add(d)
                db.commit()
            return d.id
        a = success(builds=True)
        b = success(builds=True)
        c = success(source=b, kind="redeploy", origin=b)
        d = success(source=c, kind="redeploy")       # a row from before image_origin_id: follows its source
        origin = ctl.origins(db, svc.id)
        assert origin == {a: a, b: b, c: b, d: b}
        assert ctl.kept_versions([d, c, b, a], origin, 2) == {a, b, c, d}
        assert ctl.kept_versions([d, c, b, a], origin, 1) == {b, c, d}
        svc.live_deployment_id = d
        db.add(svc)
        db.commit()
        assert ctl.rollback_target(db, svc, None).id == a, "the previous version, not a copy of the live one"


def test_an_id_is_never_taken_for_a_digit_name(engine):
    """The dashboard holds ids; a service or project named like another's id must not shadow it
    (found in review: Deploy on service #2's page deployed the service named "2")."""
    with session(engine) as db:
        first = projects.create_project(db, "first")
        named_like = projects.create_project(db, str(first.id))   # a project named "1"
        web = projects.create_service(db, projects.ServiceInput(project=first.id, name="web",
                                                                repo_url="https://example.com/a.git"))
        assert web.project_id == first.id, "an int project reference is an id"
        digit = projects.create_service(db, projects.ServiceInput(project=named_like.name, name=str(web.id),
                                                                  repo_url="https://example.com/b.git"))
        assert digit.project_id == named_like.id, "a text reference is a name first"
        assert projects.get_service(db, web.id).name == "web"
        assert projects.get_service(db, str(web.id)).id == digit.id
        assert projects.get_project(db, first.id).name == "first"
        assert [s.name for s in projects.list_services(db, first.id)] == ["web"]
        with pytest.raises(NotFound):
            projects.get_service(db, 10_000)


def test_a_project_is_deleted_only_once_it_has_no_services(engine):
    with session(engine) as db:
        p = projects.create_project(db, "short-lived")
        projects.create_service(db, projects.ServiceInput(project="short-lived", name="api",
                                                          repo_url="https://example.com/a.git"))
        with pytest.raises(ValidationError, match=r"still has 1 service\(s\) \(api\); delete them first"):
            projects.delete_project(db, "short-lived")
        assert projects.get_project(db, p.id).name == "short-lived", "a refused delete loses nothing"
        db.exec(sql_delete(Service))
        db.commit()
        assert projects.delete_project(db, "short-lived") == "short-lived"
        with pytest.raises(NotFound, match="project 'short-lived' not found"):
            projects.get_project(db, "short-lived")
        with pytest.raises(NotFound):
            projects.delete_project(db, "short-lived")
