"""A real git server for tests: `git daemon` serving bare repositories over git://."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin"}


class GitServer:
    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.base = root / "repos"
        self.work = root / "work"
        self.base.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.proc = None

    def start(self) -> "GitServer":
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={self.base}", "--listen=127.0.0.1",
             f"--port={self.port}", str(self.base)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if self.proc.poll() is not None:   # e.g. the port is taken (a daemon left by an earlier run)
                raise RuntimeError(f"git daemon exited at start (is port {self.port} taken?)")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.1)   # the answer may be another process's: ours must still be alive
                if self.proc.poll() is not None:
                    raise RuntimeError(f"git daemon exited at start (is port {self.port} taken?)")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("git daemon did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def _git(self, *args, cwd: Path) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout

    def create(self, name: str, files: dict[str, str], branch: str = "main") -> str:
        """Create (or reset) a repository with one commit of ``files``. Returns its URL."""
        bare = self.base / f"{name}.git"
        wt = self.work / name
        shutil.rmtree(bare, ignore_errors=True)
        shutil.rmtree(wt, ignore_errors=True)
        self._git("init", "--bare", "-q", "-b", branch, str(bare), cwd=self.base)
        wt.mkdir()
        self._git("init", "-q", "-b", branch, cwd=wt)
        self._git("remote", "add", "origin", str(bare), cwd=wt)
        self.commit(name, files, "initial", branch)
        return self.url(name)

    def commit(self, name: str, files: dict[str, str], message: str = "change", branch: str = "main") -> str:
        wt = self.work / name
        for rel, content in files.items():
            p = wt / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        self._git("add", "-A", cwd=wt)
        self._git("commit", "-q", "-m", message, cwd=wt)
        self._git("push", "-q", "origin", f"HEAD:{branch}", cwd=wt)
        return self._git("rev-parse", "HEAD", cwd=wt).strip()
