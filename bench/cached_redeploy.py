"""A cached redeploy after a code-only change to a small Python app (zero-config build).

    .venv/bin/python bench/cached_redeploy.py [--runs 5]

The sample is tests/samples/repos/py-pip (Flask, requirements.txt, no Dockerfile). After one
cold deploy, each run pushes a commit that changes only version.txt, presses Deploy, and stops
the clock when the edge serves the new version. Target: under 10 s on a 2-core machine.
Starts its own platform instance ("bench") on separate ports, and stops it at the end.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _platform import platform  # noqa: E402
from tests import samples  # noqa: E402


def serves(b, text: str, deadline: float) -> bool:
    url = f"http://127.0.0.1:{b.settings.edge_port}/"
    while time.monotonic() < deadline:
        try:
            if text in httpx.get(url, headers={"Host": f"cached.{b.settings.domain}"}, timeout=2).text:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def deploy_until_served(b, version: str) -> float:
    t = time.monotonic()
    dep = b.api.post("/api/services/cached/deploy")
    if not serves(b, f"py-pip {version} ", t + 600):
        d = b.api.get(f"/api/deployments/{dep['id']}")
        raise SystemExit(f"{version} never served: {d['status']} {d['failure_reason']}")
    return time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with platform() as b:
        url = b.git.create("cached", samples.repo("py-pip"))
        b.api.post("/api/services", {"project": "bench", "name": "cached", "repo_url": url})
        print(f"cold deploy (dependencies installed): {deploy_until_served(b, 'v1'):.2f} s", flush=True)
        times = []
        for n in range(2, args.runs + 2):
            b.git.commit("cached", {"version.txt": f"v{n}\n"})
            times.append(deploy_until_served(b, f"v{n}"))
            print(f"run {n - 1}: Deploy -> new version served in {times[-1]:.2f} s", flush=True)
        print(f"median cached redeploy {statistics.median(times):.2f} s (target < 10 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
