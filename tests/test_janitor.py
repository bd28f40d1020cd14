"""The janitor's plan (pure) and the supervisor's back-off: what is stale, what is kept."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cli.supervisor import backoff
from control.janitor import GRACE_S, Facts, Seen, plan, tmp_prefix

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def facts(containers, live, running=(), known=None, services=("web", "api"), images=(), tmp=()) -> Facts:
    known = set(known if known is not None else {c.deployment_id for c in containers if c.deployment_id})
    return Facts(containers=list(containers), live=live, running=set(running), known=known, services=set(services),
                 images=list(images), tmp_dirs=[Path("/tmp") / t for t in tmp], now=NOW, drain_s=3.5, instance="test")


def c(name, service, dep):
    return Seen(id=name, name=name, service=service, deployment_id=dep)


LONG_AGO, JUST_NOW = NOW - timedelta(seconds=3.5 + GRACE_S + 1), NOW - timedelta(seconds=2)


@pytest.mark.parametrize("case,containers,live,running,known,removed", [
    ("live and building containers stay", [c("a", "web", 5), c("b", "web", 6)], {"web": (5, LONG_AGO)}, {6}, None, []),
    ("a replaced container drains, then goes", [c("old", "web", 4), c("new", "web", 5)], {"web": (5, JUST_NOW)}, (),
     None, []),
    ("after the drain it is stale", [c("old", "web", 4), c("new", "web", 5)], {"web": (5, LONG_AGO)}, (), None,
     ["old"]),
    ("a failed deployment's container goes", [c("bad", "api", 9)], {}, (), None, ["bad"]),
    ("a deployment the database does not know", [c("ghost", "web", 77)], {"web": (5, LONG_AGO)}, (), {5}, ["ghost"]),
    ("no deployment label at all", [c("odd", "web", None)], {}, (), set(), ["odd"]),
    ("another service's recent switch does not delay this one", [c("old", "api", 1)],
     {"web": (5, JUST_NOW), "api": (2, LONG_AGO)}, (), {1, 2, 5}, ["old"]),
])
def test_stale_containers(case, containers, live, running, known, removed):
    out = plan(facts(containers, live, running, known))
    assert [x.name for x in out.containers] == removed, case


def test_images_of_deleted_services_and_folders_of_finished_deployments():
    f = facts([], {}, running={8}, services={"web"},
              images=["renderlite-test/web:3", "renderlite-test/gone:2"],
              tmp=[tmp_prefix("test", "web", 8) + "x", tmp_prefix("test", "web", 7) + "y",
                   tmp_prefix("other", "web", 7) + "z", "unrelated"])
    out = plan(f)
    assert out.images == ["renderlite-test/gone:2"]
    assert [d.name for d in out.tmp_dirs] == [tmp_prefix("test", "web", 7) + "y"], "only this instance's, finished"


def test_restart_backoff_doubles_and_caps():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [1, 2, 4, 8, 16, 30, 30, 30]


# -------------------------------------------------------------- health checks of running apps
from control.health_monitor import Track, step  # noqa: E402
from jobs.health import HealthSpec  # noqa: E402

SPEC = HealthSpec(interval=2, retries=3, start_period=20)


def test_health_monitor_marks_unhealthy_after_retries_restarts_once_then_recovers():
    t, now, verdicts = Track(deployment_id=7), 0.0, []
    for result in ("GET /healthz answered 500", "timed out", "GET /healthz answered 500", "Connection refused",
                   None):
        v = step(t, result, SPEC, now)
        verdicts.append((v.unhealthy is not None, v.restart, v.track.next_at - now))
        t, now = v.track, v.track.next_at
    assert verdicts == [(False, False, 2), (False, False, 2), (True, True, 20), (True, False, 2), (False, False, 2)]
    assert t == Track(deployment_id=7, next_at=t.next_at), "a pass forgets the streak"


def test_health_monitor_detail_names_the_failures():
    t = Track(deployment_id=1, failures=2, results=("a", "b"))
    v = step(t, "GET /healthz answered 503", SPEC, 0)
    assert v.unhealthy == ("failed its health check 3 times in a row (a; b; GET /healthz answered 503); "
                           "RenderLite restarted it")
    v2 = step(v.track, "still 503", SPEC, 30)
    assert not v2.restart and "restarting it did not help" in v2.unhealthy


def test_a_container_the_monitor_is_restarting_reads_unhealthy_not_crashed():
    """Found in review: the reconciler saw the container between the stop and the start of the
    monitor's restart and wrote "crashed"; the monitor then dropped its verdict (the route had no
    address), so "unhealthy" was never shown."""
    from control.health_monitor import keeps_while_restarting
    from control.status import Observed, judge

    detail = "failed its health check 3 times in a row (x); RenderLite restarted it"
    down = Observed(exists=True, running=False, restarting=False, exit_code=143, restarts=0, logs="")
    assert judge("unhealthy", down, detail) == ("unhealthy", detail)
    assert judge("running", down, None)[0] == "crashed", "with no verdict a stopped container is a crash"
    looping = Observed(exists=True, running=False, restarting=True, exit_code=1, restarts=3, logs="boom")
    assert judge("unhealthy", looping, detail)[0] == "crashed", "Docker restarting it after exits is a crash loop"
    gone = Observed(exists=False, running=False, restarting=False, exit_code=None, restarts=0, logs="")
    assert judge("unhealthy", gone, detail)[0] == "crashed"

    restarted = step(Track(7, failures=2), "GET /healthz answered 500", SPEC, 100).track
    assert restarted.restarted and keeps_while_restarting(restarted, 7, 110)
    assert not keeps_while_restarting(restarted, 7, restarted.next_at + 1), "after the start period: let it go"
    assert not keeps_while_restarting(restarted, 8, 110), "a new deployment starts a new track"
    assert not keeps_while_restarting(Track(7, failures=1), 7, 0), "not restarted by the monitor"
    assert not keeps_while_restarting(None, 7, 0)


def test_up_reads_the_exits_the_supervisor_writes():
    from cli.supervisor import exits

    log = ("2026-12-04 07:00:00 web exited with code 1; restarting it in 1 s\n"
           "2026-12-04 07:00:01 something else happened\n"
           "2026-12-04 07:00:02 worker exited with code -9; restarting it in 2 s\n")
    assert exits(log) == [("web", "web exited with code 1; restarting it in 1 s"),
                          ("worker", "worker exited with code -9; restarting it in 2 s")]
