"""Deploy the same repository through RenderLite and with the plain steps, side by side.

    .venv/bin/python bench/deploy_vs_plain.py [--runs 5]

RenderLite: POST /api/services/<s>/deploy until the deployment is SUCCESS (clone, build,
start, health check, route switch). Plain: `git clone --depth 1`, `docker build`,
`docker run`, wait for the port. Each run first pushes a new commit (a code-only change), so
both sides build with a warm layer cache. Prints each pair and the median ratio.
Starts its own platform instance ("bench") on separate ports, and stops it at the end.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _platform import platform  # noqa: E402
from cli.client import Api  # noqa: E402
from tests import samples  # noqa: E402


def plain(url: str, n: int, client) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    t = time.monotonic()
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "main", url, str(work / "src")], check=True)
    subprocess.run(["docker", "build", "-q", "-t", f"bench-plain:{n}", str(work / "src")], check=True, stdout=subprocess.DEVNULL)
    cid = subprocess.run(["docker", "run", "-d", "-e", "PORT=3000", "--name", f"bench-plain-{n}", f"bench-plain:{n}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    ip = client.containers.get(cid).attrs["NetworkSettings"]["IPAddress"]
    while True:
        try:
            socket.create_connection((ip, 3000), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    elapsed = time.monotonic() - t
    subprocess.run(["docker", "rm", "-f", cid], stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "rmi", "-f", f"bench-plain:{n}"], stdout=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)
    return elapsed


def quiesce(client) -> None:
    """Start each pair from a quiet engine: the previous deploy's drain and retire are over."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(client.containers.list(all=True, filters={"label": ["renderlite.instance=bench"]})) <= 1:
            return
        time.sleep(0.2)


def renderlite(api: Api, service: str) -> float:
    t = time.monotonic()
    dep = api.post(f"/api/services/{service}/deploy")
    while True:
        d = api.get(f"/api/deployments/{dep['id']}", log_from=10**6)
        if d["status"] in ("SUCCESS", "FAILED"):
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - t
    if d["status"] != "SUCCESS":
        raise SystemExit(f"deploy failed: {d['failure_reason']}")
    full = api.get(f"/api/deployments/{dep['id']}")
    from datetime import datetime
    queued = (datetime.fromisoformat(full["started_at"]) - datetime.fromisoformat(full["created_at"])).total_seconds()
    stages = [ln.split("(", 1)[1].rstrip(")") for ln in full["log_lines"] if ln.rstrip().endswith(" s)") and "    (" in ln]
    print(f"    renderlite stages: queue {queued:.2f} s; " + "; ".join(stages), flush=True)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with platform() as b:
        url = b.git.create("benchapp", samples.python_app("run0"))
        b.api.post("/api/services", {"project": "bench", "name": "benchapp", "repo_url": url})
        renderlite(b.api, "benchapp")          # warm both caches once
        plain(url, 0, b.docker)
        pairs = []
        for n in range(1, args.runs + 1):
            quiesce(b.docker)
            b.git.commit("benchapp", {"version.txt": f"run{n}\n"})
            p = plain(url, n, b.docker)
            r = renderlite(b.api, "benchapp")
            pairs.append((r, p))
            print(f"run {n}: renderlite {r:.2f} s   plain {p:.2f} s   ratio {r / p:.2f}", flush=True)
        ratios = [r / p for r, p in pairs]
        print(f"median renderlite {statistics.median(r for r, _ in pairs):.2f} s, "
              f"plain {statistics.median(p for _, p in pairs):.2f} s, median ratio {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
