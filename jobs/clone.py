"""Stage 1: clone the service's branch at depth 1. Plan (argv) is pure; run() executes it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import CloneError


@dataclass(frozen=True)
class ClonePlan:
    url: str
    branch: str
    dest: Path
    timeout: int
    submodules: bool = False
    max_mb: int = 0            # 0: no size limit

    def argv(self, shallow: bool = True) -> list[str]:
        argv = ["git", "-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never", "clone",
                *(["--depth", "1"] if shallow else []), "--branch", self.branch, "--single-branch", "--no-tags"]
        return argv + ["--", self.url, str(self.dest)]   # submodules come after, once their URLs are checked

    def in_checkout(self, *args: str) -> list[str]:
        """A git command run inside the checkout, with the same protocol limits as the clone."""
        return ["git", "-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never", "-C", str(self.dest), *args]

    def submodule_argv(self) -> list[str]:
        return self.in_checkout("submodule", "update", "--init", "--depth", "1")


def check_submodules(plan: ClonePlan, urls: dict[str, str]) -> None:
    """Pure: a submodule may only come from the repository's own host, so a public repository cannot
    make the server fetch from its internal network. ``urls`` are as git resolved them (relative
    ones made absolute against the repository's URL)."""
    from urllib.parse import urlsplit

    host = urlsplit(plan.url).hostname
    for name, url in sorted(urls.items()):
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "git") or parts.hostname != host or parts.username:
            raise CloneError(f"submodule '{name}' points at {url!r}, not at the repository's own host ({host}); "
                             "RenderLite fetches submodules from that host only: move the submodule there, or turn "
                             "the service's submodules setting off")


def submodule_urls(plan: ClonePlan) -> dict[str, str]:
    """The submodules' URLs exactly as git will fetch them: `git submodule init` resolves relative URLs
    (``../x``) against the repository's and copies them into .git/config, read back NUL-separated (a
    submodule's name may hold spaces and newlines)."""
    gitmodules = plan.dest / ".gitmodules"
    if not gitmodules.exists() and not gitmodules.is_symlink():
        return {}
    if gitmodules.is_symlink() or not gitmodules.is_file():
        raise CloneError(".gitmodules is not a regular file; replace it, or turn the service's submodules setting off")
    try:
        init = subprocess.run(plan.in_checkout("submodule", "init"), capture_output=True, text=True, timeout=30,
                              env=git_env())
    except subprocess.TimeoutExpired:
        raise CloneError("reading the submodules took over 30 s; turn the service's submodules setting off") from None
    if init.returncode != 0:
        tail = (init.stderr.strip().splitlines() or ["no output"])[-1]
        raise CloneError(f"the repository's .gitmodules could not be read: {tail}; fix it, or turn the service's "
                         "submodules setting off")
    out = subprocess.run(plan.in_checkout("config", "--local", "-z", "--get-regexp", r"^submodule\..*\.url$"),
                         capture_output=True, text=True, timeout=30, env=git_env()).stdout
    return {k[len("submodule."):-len(".url")]: v for k, _, v in (e.partition("\n") for e in out.split("\0") if e)}


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SSL_CERT_FILE", "http_proxy", "https_proxy", "no_proxy")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="/bin/true", GIT_ALLOW_PROTOCOL="http:https:git",
               GIT_CONFIG_NOSYSTEM="1", GIT_LFS_SKIP_SMUDGE="1")
    return env


def explain(plan: ClonePlan, stderr: str) -> str:
    """Turn git's stderr into a message naming the cause and the next step."""
    low = stderr.lower()
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "remote branch" in low and "not found" in low or "couldn't find remote ref" in low:
        return (f"branch '{plan.branch}' not found in {plan.url}; "
                "check the service's branch setting (the repository's default may be 'master' or 'main')")
    if "could not resolve host" in low or "name or service not known" in low:
        return f"cannot resolve the host of {plan.url}; check the repository URL"
    if "connection refused" in low or "unable to connect" in low or "timed out" in low or "failed to connect" in low:
        return f"cannot connect to {plan.url} ({tail}); check the URL and that the server is up"
    if ("not found" in low or "does not appear to be a git repository" in low or "authentication" in low
            or "could not read username" in low or "403" in low or "401" in low):
        return (f"repository {plan.url} was not found or needs credentials ({tail}); "
                "check the URL and that the repository is public")
    return f"git clone of {plan.url} failed: {tail or 'no output'}"


INODE_KB = 4   # what each file or folder is counted as at least: a tree of empty files still fills a disk


def size_mb(path: Path) -> float:
    """Disk space under ``path`` in MB: allocated blocks of every entry (symlinks not followed), and at
    least INODE_KB per entry, so a repository of many tiny or empty files is measured too."""
    total = 0
    for root, dirs, files in os.walk(path):
        for f in files + dirs:
            try:
                st = os.lstat(os.path.join(root, f))
                total += max(st.st_blocks * 512, INODE_KB * 1024)
            except OSError:
                pass
    return total / (1024 * 1024)


def too_big(plan: ClonePlan, mb: float) -> CloneError:
    return CloneError(f"the checkout of {plan.url} is {mb:.0f} MB, over the {plan.max_mb} MB limit; remove large "
                      "files from the branch (or move them to Git LFS, which RenderLite does not fetch), or raise "
                      "RENDERLITE_CLONE_MAX_MB")


def watched(plan: ClonePlan, argv: list[str], deadline: float) -> tuple[int | None, str]:
    """Run a git command that writes into the checkout: (exit code, stderr), or (None, stderr) past
    the deadline. The size limit is checked while it runs, so a huge repository (or submodule) is
    stopped before it fills the disk: CloneError."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=git_env(), stdin=subprocess.DEVNULL, start_new_session=True, errors="replace")
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True)
    reader.start()
    started, over = time.monotonic(), None
    while proc.poll() is None:
        mb = size_mb(plan.dest) if plan.max_mb and plan.dest.exists() else 0
        if mb > plan.max_mb > 0:
            over = mb
        if over or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.05 if time.monotonic() - started < 2 else 0.5)   # small clones end within the first polls
    reader.join(5)
    if over:
        raise too_big(plan, over)
    if time.monotonic() > deadline and proc.returncode != 0:
        return None, "".join(stderr)
    return proc.returncode, "".join(stderr)


def run(plan: ClonePlan, log) -> str:
    """Clone (and the submodules, if asked) and return the commit sha. Raises CloneError. The size
    limit is checked while git runs and once more at the end."""
    log.line(f"==> Cloning {plan.url} (branch {plan.branch}, depth 1)")
    deadline = time.monotonic() + plan.timeout
    code, text = watched(plan, plan.argv(), deadline)
    if code not in (0, None) and "does not support shallow" in text:
        # a "dumb" HTTP server (static files, e.g. `git update-server-info` + any web server) cannot
        # serve depth 1: fetch the one branch whole, under the same time and size limits
        log.line("    the server speaks git's dumb HTTP protocol, which cannot fetch depth 1: cloning the "
                 "branch's whole history instead (the size limit still applies)")
        shutil.rmtree(plan.dest, ignore_errors=True)
        code, text = watched(plan, plan.argv(shallow=False), deadline)
    if code is None:
        raise CloneError(f"clone of {plan.url} exceeded {plan.timeout} s; check the repository size "
                         "and the network, or raise RENDERLITE_CLONE_TIMEOUT")
    if code != 0:
        for line in text.strip().splitlines()[-5:]:
            log.line(f"    {line}")
        message = explain(plan, text)
        if message.startswith("branch "):
            message += remote_branches(plan)
        raise CloneError(message)
    if plan.submodules:
        fetch_submodules(plan, log, deadline)
    if plan.max_mb and (mb := size_mb(plan.dest)) > plan.max_mb:
        raise too_big(plan, mb)
    sha = subprocess.run(["git", "-C", str(plan.dest), "rev-parse", "HEAD"], capture_output=True,
                         text=True, timeout=30, env=git_env()).stdout.strip()
    log.line(f"    commit {sha}")
    return sha


def fetch_submodules(plan: ClonePlan, log, deadline: float) -> None:
    urls = submodule_urls(plan)
    if not urls:
        return
    check_submodules(plan, urls)
    log.line(f"    submodules: {', '.join(sorted(urls))} (depth 1, one level)")
    code, text = watched(plan, plan.submodule_argv(), deadline)
    if code is None:
        raise CloneError(f"fetching the submodules exceeded the clone time limit ({plan.timeout} s); "
                         "raise RENDERLITE_CLONE_TIMEOUT or turn the service's submodules setting off")
    if code != 0:
        tail = (text.strip().splitlines() or ["no output"])[-1]
        raise CloneError(f"fetching the submodules failed: {tail}; check their URLs, or turn the service's "
                         "submodules setting off")


def remote_branches(plan: ClonePlan) -> str:
    """'; its branches are: main (default), dev' for a missing-branch message, or '' if unknown."""
    try:
        out = subprocess.run(["git", "ls-remote", "--symref", "--", plan.url, "HEAD"], capture_output=True,
                             text=True, timeout=15, env=git_env(), stdin=subprocess.DEVNULL).stdout
        out += subprocess.run(["git", "ls-remote", "--heads", "--", plan.url], capture_output=True, text=True,
                              timeout=15, env=git_env(), stdin=subprocess.DEVNULL).stdout
    except (subprocess.TimeoutExpired, OSError):
        return ""
    default = next((ln.split()[1].removeprefix("refs/heads/") for ln in out.splitlines() if ln.startswith("ref: ")), None)
    names = sorted({ln.split()[1].removeprefix("refs/heads/") for ln in out.splitlines()
                    if ln.split() and not ln.startswith("ref: ") and "refs/heads/" in ln})
    if not names:
        return ""
    shown = [f"{n} (default)" if n == default else n for n in names[:10]]
    return f"; its branches are: {', '.join(shown)}" + (" ..." if len(names) > 10 else "")
