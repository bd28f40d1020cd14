"""Stage 1: clone the service's branch at depth 1. Plan (argv) is pure; run() executes it."""
from __future__ import annotations

import os
import subprocess
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

    def argv(self) -> list[str]:
        argv = ["git", "-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never",
                "clone", "--depth", "1", "--branch", self.branch, "--single-branch", "--no-tags"]
        if self.submodules:
            argv += ["--recurse-submodules", "--shallow-submodules"]
        return argv + ["--", self.url, str(self.dest)]


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


def run(plan: ClonePlan, log) -> str:
    """Clone and return the commit sha. Raises CloneError."""
    log.line(f"==> Cloning {plan.url} (branch {plan.branch}, depth 1)")
    try:
        proc = subprocess.run(plan.argv(), capture_output=True, text=True, timeout=plan.timeout,
                              env=git_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CloneError(f"clone of {plan.url} exceeded {plan.timeout} s; check the repository size "
                         "and the network, or raise RENDERLITE_CLONE_TIMEOUT") from None
    if proc.returncode != 0:
        for line in proc.stderr.strip().splitlines()[-5:]:
            log.line(f"    {line}")
        raise CloneError(explain(plan, proc.stderr))
    sha = subprocess.run(["git", "-C", str(plan.dest), "rev-parse", "HEAD"], capture_output=True,
                         text=True, timeout=30, env=git_env()).stdout.strip()
    log.line(f"    commit {sha}")
    return sha
