"""The Nixpacks builder's executor. Nixpacks itself cannot be installed here (it downloads Nix
packages at build time), so a stand-in `nixpacks` on the PATH speaks its CLI (`nixpacks build
<path> --name <image> [--build-cmd C] [--start-cmd C]`) and builds with the real Docker engine."""
from __future__ import annotations

import json
import stat
import sys
import time

import pytest

from core.errors import BuildError
from jobs import build

FAKE = '''#!{python}
import json, subprocess, sys, time
args = sys.argv[1:]
assert args[0] == "build", args
path, opts = args[1], dict(zip(args[2::2], args[3::2]))
mode = open(path + "/MODE").read().strip()
print("nixpacks stand-in: building", path, flush=True)
if mode == "fail":
    print("error: no provider matched", flush=True); sys.exit(1)
if mode == "slow":
    time.sleep(60)
start = opts.get("--start-cmd", "python3 -m http.server $PORT")
df = "FROM {base}\\nWORKDIR /app\\nCOPY . .\\nCMD " + json.dumps(["sh", "-c", start]) + "\\n"
r = subprocess.run(["docker", "build", "-q", "-t", opts["--name"], "-f", "-", path], input=df, text=True)
sys.exit(r.returncode)
'''


class Log:
    def __init__(self):
        self.lines = []

    def line(self, text):
        self.lines.append(text)


@pytest.fixture
def nixpacks(tmp_path, base_images):
    binary = tmp_path / "bin" / "nixpacks"
    binary.parent.mkdir()
    binary.write_text(FAKE.replace("{python}", sys.executable).replace("{base}", base_images["python"]))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return str(binary)


def plan_for(tmp_path, binary, mode, timeout=120, **kw):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "MODE").write_text(mode)
    req = build.BuildRequest(checkout=src, tag="rlunit/nix:1", timeout=timeout, builder="nixpacks", **kw)
    return build.plan(req, nixpacks_bin=binary)


def test_nixpacks_builds_the_image_with_the_services_start_command(tmp_path, nixpacks, docker_client):
    log = Log()
    build.run(docker_client, plan_for(tmp_path, nixpacks, "ok", start_command="echo started; sleep 1"), log)
    cmd = docker_client.images.get("rlunit/nix:1").attrs["Config"]["Cmd"]
    assert cmd == ["sh", "-c", "echo started; sleep 1"], "the start command reached nixpacks as one argv item"
    assert any("nixpacks stand-in: building" in ln for ln in log.lines)
    docker_client.images.remove("rlunit/nix:1", force=True)


def test_nixpacks_failure_names_the_cause(tmp_path, nixpacks, docker_client):
    with pytest.raises(BuildError, match="nixpacks build exited with code 1: .*no provider matched"):
        build.run(docker_client, plan_for(tmp_path, nixpacks, "fail"), Log())


def test_nixpacks_build_past_its_limit_is_stopped(tmp_path, nixpacks, docker_client):
    t = time.monotonic()
    with pytest.raises(BuildError, match="build exceeded 3 s"):
        build.run(docker_client, plan_for(tmp_path, nixpacks, "slow", timeout=3), Log())
    assert time.monotonic() - t < 10
