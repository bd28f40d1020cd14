"""The supervisor: runs Caddy, the worker, the edge watcher and the dashboard, and restarts any of
them that exits (with back-off), so a crashed worker is back within seconds and the janitor
recovers what it left. Each child runs in its own process group, its output appended to
<data>/logs/<name>.log. The pid file lists the supervisor and its children, for `down`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import ROOT, Settings

PY = sys.executable
MAX_BACKOFF_S = 30
STABLE_S = 60          # a child that ran this long starts its back-off afresh


def commands(s: Settings) -> dict[str, list[str]]:
    return {
        "caddy": ["caddy", "run", "--config", str(s.data_dir / "caddy-initial.json")],
        "worker": [PY, "-m", "jobs.worker"],
        "edge": [PY, "-m", "cli", "edge-watch"],
        "web": [str(Path(PY).parent / "reflex"), "run", "--env", "prod", "--loglevel", "warning",
                "--backend-host", s.web_host],
    }


def pidfile(s: Settings) -> Path:
    return s.data_dir / "pids.json"


STAMP = "%Y-%m-%d %H:%M:%S "     # each line of supervisor.log starts with it
EXITED = " exited with code "


def exits(log_text: str) -> list[tuple[str, str]]:
    """Pure: (process name, the line without its time) of each exit supervisor.log records."""
    stamp = len(time.strftime(STAMP, time.gmtime(0)))
    out = []
    for line in log_text.splitlines():
        name, sep, _ = line[stamp:].partition(EXITED)
        if sep and " " not in name:
            out.append((name, line[stamp:]))
    return out


def backoff(failures: int) -> float:
    """Pure: seconds to wait before the n-th consecutive restart (1, 2, 4, ... up to 30)."""
    return min(MAX_BACKOFF_S, 2 ** max(0, failures - 1))


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    due: float = 0.0       # when a restart is due (monotonic), after an exit


@dataclass
class Supervisor:
    s: Settings
    env: dict[str, str]
    children: dict[str, Child] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Supervisor":
        logs = self.s.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name, argv in commands(self.s).items():
            self.children[name] = Child(name, argv)
            self._spawn(self.children[name])
        return self

    def _spawn(self, c: Child) -> None:
        with open(self.s.data_dir / "logs" / f"{c.name}.log", "ab") as out:
            c.proc = subprocess.Popen(c.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        c.started = time.monotonic()
        self._write_pids()

    def _write_pids(self) -> None:
        pids = {"supervisor": os.getpid(), "children": {n: c.proc.pid for n, c in self.children.items() if c.proc}}
        tmp = pidfile(self.s).with_suffix(".tmp")
        tmp.write_text(json.dumps(pids))
        os.replace(tmp, pidfile(self.s))

    def check(self) -> list[str]:
        """One pass: restart the children whose back-off is over. Returns the names restarted."""
        restarted = []
        now = time.monotonic()
        for c in self.children.values():
            code = c.proc.poll() if c.proc else None
            if code is None or self.stopping.is_set():
                continue
            if not c.due:
                c.failures = 1 if now - c.started >= STABLE_S else c.failures + 1
                c.due = now + backoff(c.failures)
                self._note(f"{c.name}{EXITED}{code}; restarting it in {backoff(c.failures):g} s")
            elif now >= c.due:
                c.due = 0.0
                self._spawn(c)
                restarted.append(c.name)
        return restarted

    def _note(self, text: str) -> None:
        with open(self.s.data_dir / "logs" / "supervisor.log", "a") as f:
            f.write(time.strftime(STAMP) + text + "\n")

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.check()

    def stop(self) -> None:
        self.stopping.set()
        procs = [c.proc for c in self.children.values() if c.proc and c.proc.poll() is None]
        stop_groups([p.pid for p in procs])
        pidfile(self.s).unlink(missing_ok=True)


def stop_groups(pgids: list[int], grace: float = 10) -> None:
    """SIGTERM each process group, then SIGKILL what is left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [g for g in pgids if _signal(g, sig)]
        if not alive:
            return
        deadline = time.monotonic() + grace
        while sig == signal.SIGTERM and time.monotonic() < deadline and any(_signal(g, 0) for g in alive):
            time.sleep(0.2)


def _signal(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def main(s: Settings) -> int:
    """`python -m cli supervise`: run until SIGTERM (what `down` sends) or Ctrl-C."""
    sup = Supervisor(s, dict(os.environ)).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sup.stopping.set())
    try:
        sup.run()
    finally:
        sup.stop()
    return 0
