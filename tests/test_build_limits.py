"""Build limits against the real Docker engine: a build that sleeps past its limit is stopped
(its RUN container killed), and a cancelled build stops within seconds."""
from __future__ import annotations

import threading
import time

import pytest

from core.errors import BuildError, Cancelled
from jobs import build
from tests.conftest import eventually


class Log:
    def __init__(self):
        self.lines = []

    def line(self, text):
        self.lines.append(text)


def sleeper(tmp_path, base_images):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_images['python']}\nRUN echo started && sleep 120\n")
    return build.BuildPlan(context=tmp_path, dockerfile="Dockerfile", tag="rlunit/sleeper:1", timeout=4)


def running_build_containers(docker_client):
    """From one listing (no inspect per container: one removed meanwhile cannot make it fail)."""
    return [row["Id"] for row in docker_client.api.containers() if "sleep 120" in (row.get("Command") or "")]


def test_build_past_its_limit_is_stopped(tmp_path, docker_client, base_images):
    t = time.monotonic()
    with pytest.raises(BuildError, match=r"build exceeded 4 s at step 2/\d \(RUN echo started && sleep 120\)"):
        build.run(docker_client, sleeper(tmp_path, base_images), Log())
    assert time.monotonic() - t < 15
    assert eventually(lambda: running_build_containers(docker_client) == [], 20), "the build's RUN container was stopped"


def test_cancel_stops_a_running_build(tmp_path, docker_client, base_images):
    plan = sleeper(tmp_path, base_images)
    plan = build.BuildPlan(**{**plan.__dict__, "timeout": 300})
    flag = threading.Event()
    threading.Timer(3, flag.set).start()
    t = time.monotonic()
    with pytest.raises(Cancelled):
        build.run(docker_client, plan, Log(), cancelled=flag.is_set)
    assert time.monotonic() - t < 15
    assert eventually(lambda: running_build_containers(docker_client) == [], 20), "the build's RUN container was stopped"


CGROUP_LIMITS = ("RUN echo cpu=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) "
                 "mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\n")


def test_build_steps_run_under_the_memory_and_cpu_caps(tmp_path, docker_client, base_images):
    bust = f"ENV CACHE_BUST={time.time_ns()}\n"   # the RUN steps must run, not come from an earlier run's cache
    (tmp_path / "Dockerfile").write_text(f"FROM {base_images['python']}\n{bust}{CGROUP_LIMITS}"
                                         f"RUN python3 -c 'x = bytearray(600 * 1024 * 1024); print(len(x))'\n")
    plan = build.BuildPlan(context=tmp_path, dockerfile="Dockerfile", tag="rlunit/hog:1", timeout=120,
                           memory_mb=256, cpus=0.5)
    log = Log()
    with pytest.raises(BuildError, match=r"step 4/4 .*non-zero code: 137"):   # killed by the OOM killer
        build.run(docker_client, plan, log)
    limits = next(ln for ln in log.lines if ln.startswith("cpu="))
    assert limits.split()[0] in ("cpu=50000", "cpu=50000 100000") and limits.split()[-1] == f"mem={256 * 1024 * 1024}"


def test_a_fork_bomb_in_a_build_step_hits_the_builds_process_limit(tmp_path, docker_client, base_images):
    parent = build.build_cgroup(docker_client.info().get("CgroupDriver"), 64, name="renderlite-test-builds")
    if parent is None:
        pytest.skip("this engine's cgroups cannot be set up from here (systemd driver or read-only cgroupfs)")
    bust = f"ENV CACHE_BUST={time.time_ns()}\n"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_images['python']}\n{bust}"
        "RUN i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i+1)); done; echo all-forked; wait\n")
    plan = build.BuildPlan(context=tmp_path, dockerfile="Dockerfile", tag="rlunit/forks:1", timeout=60,
                           cgroup_parent=parent)
    log = Log()
    t = time.monotonic()
    with pytest.raises(BuildError, match="non-zero code"):
        build.run(docker_client, plan, log)
    assert time.monotonic() - t < 30 and "all-forked" not in [ln.strip() for ln in log.lines]
    assert any("Cannot fork" in ln for ln in log.lines)


def test_output_split_across_chunks_is_logged_as_whole_lines(tmp_path, docker_client, base_images):
    """Found in a trial: uv's output reached the log as `Using` / `CPython 3` / `.11` (Docker's
    stream chunks end wherever the tool flushed)."""
    bust = f"ENV CACHE_BUST={time.time_ns()}\n"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_images['python']}\n{bust}RUN printf 'Using ' && sleep 0.5 && printf 'CPython 3' && sleep 0.5 "
        "&& printf '.11\\nnext line\\n' && printf 'no newline at the end'\n")
    log = Log()
    build.run(docker_client, build.BuildPlan(context=tmp_path, dockerfile="Dockerfile", tag="rlunit/chunks:1",
                                             timeout=60), log)
    assert "Using CPython 3.11" in log.lines and "next line" in log.lines and "no newline at the end" in log.lines
    assert not any(ln in ("Using ", "Using", "CPython 3", ".11") for ln in log.lines), log.lines
    docker_client.images.remove("rlunit/chunks:1")
