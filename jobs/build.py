"""Stage 2: build the image, streaming output into the deployment's log.

``plan()`` decides how (the repository's Dockerfile, a Dockerfile RenderLite generates when there is
none, or Nixpacks when the service asks for it and the server has it); ``run()`` executes the plan
with the Docker SDK (or the nixpacks CLI) under a time limit, a memory and a CPU cap."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from core.errors import BuildError, Cancelled
from core.text import Lines, clean

logger = logging.getLogger("renderlite.build")

STEP_RE = re.compile(r"^Step \d+/\d+ : ")


GENERATED = ".renderlite.Dockerfile"    # written into the build context, kept out of the image
DETECT_VARS = ("NODE_VERSION", "PYTHON_VERSION", "RUBY_VERSION", "GO_VERSION", "DISABLE_COLLECTSTATIC")


@dataclass(frozen=True)
class BuildRequest:
    """What the build stage reads from a service, once its source is checked out."""
    checkout: Path
    tag: str                          # renderlite/<service>:<deployment id>
    timeout: int
    root_dir: str = ""
    dockerfile_path: str = "Dockerfile"
    builder: str = "auto"             # auto | dockerfile | nixpacks
    build_command: str | None = None
    start_command: str | None = None
    env: dict = field(default_factory=dict)          # detection variables only (NODE_VERSION, ...)
    base_images: dict = field(default_factory=dict)  # RENDERLITE_BASE_IMAGE_<RUNTIME> overrides
    memory_mb: int = 2048
    cpus: float = 1.0
    cgroup_parent: str | None = None    # build_cgroup(): the process limit of build steps


def build_cgroup(driver: str | None, pids_max: int, name: str = "renderlite-builds",
                 root: Path = Path("/sys/fs/cgroup")) -> str | None:
    """A cgroup holding every build step, with a process limit (Docker's build API has none of its
    own, so a fork bomb in a RUN step would otherwise reach the host's limit). Returns the cgroup
    parent to build under, or None where it cannot be set up from here (systemd cgroup driver, a
    read-only /sys/fs/cgroup): builds then run without a process limit."""
    if driver != "cgroupfs" or pids_max <= 0:
        return None
    v1 = root / "pids"
    base = v1 if (v1 / "cgroup.procs").exists() else root
    try:
        if base == root and "pids" not in (root / "cgroup.subtree_control").read_text().split():
            (root / "cgroup.subtree_control").write_text("+pids")
        (base / name).mkdir(exist_ok=True)
        (base / name / "pids.max").write_text(str(pids_max))
    except OSError:
        return None
    return f"/{name}"


@dataclass(frozen=True)
class BuildPlan:
    context: Path          # the service's root directory inside the checkout
    dockerfile: str        # relative to context
    tag: str               # renderlite/<service>:<deployment id>; the repository names service and instance
    timeout: int
    memory_mb: int = 2048
    cpus: float = 1.0
    cgroup_parent: str | None = None        # build_cgroup(): the process limit of build steps
    kind: str = "dockerfile"                # dockerfile | generated | nixpacks
    runtime: str = "dockerfile"             # what the service is built as (node, python, ... for zero-config)
    generated: str | None = None            # the Dockerfile RenderLite wrote (the build plan the dashboard shows)
    dockerignore: str | None = None         # the .dockerignore to write into the context (None: keep the repo's)
    files: tuple[tuple[str, str], ...] = ()  # more files the generated Dockerfile copies (the static server)
    decisions: tuple[str, ...] = ()         # why, one build-log line each
    base_vars: tuple[tuple[str, str], ...] = ()   # (base image, the variable that overrides it)
    versions: tuple = ()                    # dockerfile_gen.Wanted: checked against the base images before the build
    nixpacks: tuple[str, ...] = ()          # the nixpacks argv (kind "nixpacks")
    release: str | None = None              # the Procfile's release: command, run before the new version starts


def _context(checkout: Path, root_dir: str) -> Path:
    context = (checkout / root_dir).resolve() if root_dir else checkout.resolve()
    if not context.is_relative_to(checkout.resolve()):
        raise BuildError(f"root directory '{root_dir}' points outside the repository; set a path inside it")
    if not context.is_dir():
        raise BuildError(f"root directory '{root_dir}' does not exist in the repository; "
                         "check the service's root directory setting")
    return context


def plan(req: BuildRequest, nixpacks_bin: str | None = None) -> BuildPlan:
    """Pure but for reading the checkout: which builder, and what it will run.

    auto: the service's Dockerfile if the repository has one, else a Dockerfile RenderLite
    generates from what it detects; dockerfile: the Dockerfile or a clear failure; nixpacks: the
    ``nixpacks`` binary (``nixpacks_bin``, found on the PATH by the caller)."""
    context = _context(req.checkout, req.root_dir)
    common = dict(context=context, tag=req.tag, timeout=req.timeout,
                  memory_mb=req.memory_mb, cpus=req.cpus, cgroup_parent=req.cgroup_parent)
    where = f"{req.root_dir}/{req.dockerfile_path}" if req.root_dir else req.dockerfile_path
    dockerfile = (context / req.dockerfile_path).resolve()
    if not dockerfile.is_relative_to(context):
        raise BuildError(f"Dockerfile path '{req.dockerfile_path}' points outside the root directory")
    if req.builder == "nixpacks":
        return _nixpacks(req, common, nixpacks_bin)
    common["release"] = _release(context)
    if dockerfile.is_file():
        _check_dockerignore(context)
        said = (f"using the repository's Dockerfile ({where})",)
        if dockerfile.stat().st_size > MAX_DOCKERFILE:
            raise BuildError(f"the Dockerfile ({where}) is over {MAX_DOCKERFILE // 1024} KB; a Dockerfile that size "
                             "is not a Dockerfile: check the service's Dockerfile path")
        from jobs.dockerfile_compat import classic

        text, changes = classic(dockerfile.read_text(errors="replace"))
        if text is None:
            return BuildPlan(dockerfile=req.dockerfile_path, decisions=said, **common)
        ignore = context / ".dockerignore"   # checked above: a plain small file, or none
        ignore_text = (ignore.read_text(errors="replace") if ignore.is_file() else "").rstrip("\n")
        return BuildPlan(dockerfile=GENERATED, generated=text, dockerignore=f"{ignore_text}\n{GENERATED}\n".lstrip("\n"),
                         decisions=(*said, *changes, f"built from that Dockerfile so changed (shown as the build plan)"),
                         **common)
    if req.builder == "dockerfile":
        raise BuildError(f"no Dockerfile at '{where}' in the repository; add one, set the service's Dockerfile "
                         "path, or switch the service's builder to auto to build without one")
    if req.dockerfile_path != "Dockerfile":
        raise BuildError(f"no Dockerfile at '{where}' (the service's Dockerfile path); fix the path, or reset it "
                         "to build without a Dockerfile")
    return _generated(req, common)


def _release(context: Path) -> str | None:
    from jobs.detect import procfile_entries
    from jobs.detect_more import read_text

    return procfile_entries(read_text(context, "Procfile") or "").get("release")


MAX_DOCKERIGNORE = 256 * 1024
MAX_DOCKERFILE = 1024 * 1024


def _check_dockerignore(context: Path) -> None:
    """Docker's client reads the repository's .dockerignore itself: it must be a plain, small file
    (a symlink to /dev/zero would be read until the worker runs out of memory)."""
    path = context / ".dockerignore"
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_DOCKERIGNORE:
        raise BuildError(".dockerignore in the repository is not a regular file under 256 KB (a symlink, a folder "
                         "or a huge file); replace it with a plain text file")


def _generated(req: BuildRequest, common: dict) -> BuildPlan:
    from jobs import dockerfile_gen
    from jobs.detect import detect
    from jobs.detect_more import read_text

    try:
        rp = detect(common["context"], req.env, req.build_command, req.start_command)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as e:
        # a manifest shaped in a way detection did not foresee: say so, never "internal error"
        logger.warning("zero-config detection failed", exc_info=True)
        raise BuildError(f"RenderLite could not read this repository's manifests to plan a build ({type(e).__name__}: "
                         f"{str(e)[:200]}); check package.json / pyproject.toml / Procfile for unusual values, or "
                         "add a Dockerfile") from None
    text, notes = dockerfile_gen.generate(rp, req.base_images)
    ignore_text = (read_text(common["context"], ".dockerignore") if rp.has_dockerignore else None) \
        or dockerfile_gen.DOCKERIGNORE
    ignore_text = ignore_text.rstrip("\n") + f"\n{GENERATED}\n"
    bases = tuple((dockerfile_gen.base_image(k, v, req.base_images)[0], f"RENDERLITE_BASE_IMAGE_{k.upper()}")
                  for k, v in dockerfile_gen.stages(rp))
    return BuildPlan(dockerfile=GENERATED, kind="generated", runtime=rp.runtime, generated=text,
                     dockerignore=ignore_text, files=tuple(sorted(dockerfile_gen.extra_files(rp).items())), decisions=("no Dockerfile: zero-config build", *rp.decisions, *notes),
                     base_vars=bases, versions=tuple(dockerfile_gen.wanted_versions(rp, req.base_images)), **common)


def _nixpacks(req: BuildRequest, common: dict, binary: str | None) -> BuildPlan:
    if not binary:
        raise BuildError("the service's builder is nixpacks, but this server has no `nixpacks` binary on its PATH; "
                         "install Nixpacks on the server, or switch the service's builder to auto")
    argv = [binary, "build", str(common["context"]), "--name", req.tag]
    if req.build_command:
        argv += ["--build-cmd", req.build_command]
    if req.start_command:
        argv += ["--start-cmd", req.start_command]
    return BuildPlan(dockerfile="", kind="nixpacks", runtime="nixpacks", nixpacks=tuple(argv),
                     decisions=(f"builder: nixpacks ({binary})",), **common)


def version_notes(client, p: BuildPlan) -> list[str]:
    """The runtime versions the app asked for, against what its base images have (after they exist)."""
    from jobs.dockerfile_gen import version_note

    notes = []
    for w in p.versions:
        try:
            env = (client.images.get(w.image).attrs.get("Config") or {}).get("Env")
        except docker.errors.APIError:
            env = None   # not here yet: the build pulls it; what it has is unknown until then
        note = version_note(w, env)
        if note:
            notes.append(note)
    return notes


def prepare(p: BuildPlan) -> None:
    """The one write a plan needs: the generated Dockerfile and .dockerignore into the checkout.
    The checkout is untrusted: a file there may be a symlink to anywhere, so it is replaced,
    never written through."""
    for name, text in ((GENERATED, p.generated), (".dockerignore", p.dockerignore), *p.files):
        if text is None:
            continue
        path = p.context / name
        if path.is_dir() and not path.is_symlink():
            raise BuildError(f"the repository has a folder named {name}, where RenderLite writes a file; rename it")
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(text)


class _BuildClient(docker.APIClient):
    """A Docker API client that keeps the build's HTTP response, so a watchdog can cut it.
    Closing the connection makes the daemon cancel the build and kill its RUN container."""
    response = None
    extra_params: dict = {}   # build parameters docker-py does not pass itself (cpuperiod, cpuquota)

    def _post(self, url, **kwargs):
        if url.endswith("/build") and self.extra_params:
            kwargs["params"] = {**(kwargs.get("params") or {}), **self.extra_params}
        resp = super()._post(url, **kwargs)
        if url.endswith("/build"):
            self.response = resp
        return resp

    def cut(self) -> None:
        resp = self.response
        try:
            sock = resp.raw._connection.sock if resp is not None else None
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            if resp is not None:
                resp.close()
        except (AttributeError, OSError):
            pass


class Watchdog:
    """Stops a build at its time limit, or when ``cancelled()`` turns true (polled each second)."""

    def __init__(self, api: _BuildClient, limit: float, cancelled=lambda: False):
        self.api, self.limit, self.cancelled = api, limit, cancelled
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()

    def _watch(self):
        deadline = time.monotonic() + self.limit
        while not self._done.wait(1.0):
            if time.monotonic() >= deadline:
                self.reason = "timeout"
            elif self.cancelled():
                self.reason = "cancelled"
            if self.reason:
                self.api.cut()
                return


PULL_FAILURES = ("pull access denied", "manifest unknown", "not found: manifest", "no such host",
                 "dial tcp", "tls handshake", "i/o timeout", "repository does not exist", "connection refused")


BOOKKEEPING_RE = re.compile(r"^( ---> |Removing intermediate container |Successfully )")
ERROR_RE = re.compile(r"error|err!|fatal|not found|no matching|cannot|failed", re.I)
STRONG_ERROR_RE = re.compile(r"\b(error|fatal|err!)\b", re.I)   # the word itself: not "Collecting pretty-errors"
WRAPPER_RE = re.compile(r"subprocess-exited-with-error|metadata-generation-failed|finished with status 'error'|"
                        r"did not run successfully|encountered error while|see above for output|^\s*note:", re.I)
NOISE_RE = re.compile(r"complete log of this run|--verbose|^npm (error|ERR!) *$|^\s*$", re.I)


def telling(lines: list[str]) -> list[str]:
    """Pure: the lines of a failed step that say why: from its first error line on (the cause comes
    first; the lines after it often finish the sentence), tool chatter dropped; else its last lines."""
    useful = [ln for ln in lines if not NOISE_RE.search(ln)]
    # A tool's own error line beats the wrapper's summary around it (pip: "subprocess-exited-with-
    # error" around setup.py's "Error: pg_config executable not found"; found in a trial)
    first = next((i for i, ln in enumerate(useful) if STRONG_ERROR_RE.search(ln) and not WRAPPER_RE.search(ln)), None)
    if first is None:
        first = next((i for i, ln in enumerate(useful) if STRONG_ERROR_RE.search(ln)), None)
    if first is None:
        first = next((i for i, ln in enumerate(useful) if ERROR_RE.search(ln)), None)
    return useful[first:first + 5] if first is not None else useful[-3:]


def from_image(step: str) -> str | None:
    """Pure: the image of a `step N/M (FROM image [AS x])` step, or None."""
    return step.split("(FROM ", 1)[1].split()[0].rstrip(")") if "(FROM " in step else None


def alike_images(client, image: str | None) -> list[str]:
    """Tags on this server with the same image name (python:3.11-slim -> renderlite-base/python:3.11)."""
    if not image:
        return []
    name = image.split("@", 1)[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
    try:
        tags = [t for img in client.images.list() for t in img.tags]
    except docker.errors.APIError:
        return []
    return sorted(t for t in tags if t.rsplit(":", 1)[0].rsplit("/", 1)[-1] == name)[:6]


def explain_failure(p: BuildPlan, step: str, msg: str, last: list[str] | None = None,
                    alike: list[str] | None = None, notes: list[str] | None = None) -> str:
    """Pure: the failure message for a failed build step, with the step's last output lines (where
    the real cause usually is: a missing package, a compiler error) and the next step for the user.
    ``alike``: images this server has with the name of one that could not be pulled; ``notes``:
    version warnings said before the build (the likely cause of a failure in a generated build)."""
    low = msg.lower()
    if "(FROM " in step and any(f in low for f in PULL_FAILURES):
        image = from_image(step)
        var = dict(p.base_vars).get(image)
        fix = (f"set {var} to an image this server has (`./renderlite admin base-images` builds local ones)"
               if var else "use a base image this server has, or make the registry reachable")
        if alike:
            fix += f"; this server has {', '.join(alike)}"
        return f"base image {image} could not be pulled ({msg}); {fix}"
    mismatch = next((n.removeprefix("WARNING: ") for n in notes or [] if n.startswith("WARNING: the app asks for")), None)
    if mismatch and p.kind == "generated":   # found in a trial: go.mod's `go 1.22.5` on a Go 1.19 image
        what = f"the likely cause: {mismatch}; otherwise fix what that step runs (the build plan shows the generated Dockerfile)"
    elif p.kind == "generated":
        what = ("fix what that step runs (the build plan shows the generated Dockerfile), set the service's build "
                "command, or add a Dockerfile")
    else:
        what = "fix that step in the Dockerfile"
    said = " | ".join(ln[:300] for ln in telling(last or []))
    return f"build failed at {short_step(step)}: {msg}" + (f" (last output: {said})" if said else "") + f"; {what} and deploy again"


def short_step(step: str, limit: int = 160) -> str:
    """Pure: a step named in a failure reason, its command cut short (a generated step can be a
    whole shell script; found in a trial: it buried the one useful sentence)."""
    return step if len(step) <= limit else step[:limit - 2].rstrip() + "…)"


def run(client, p: BuildPlan, log, cancelled=lambda: False, notes: list[str] | None = None) -> str:
    """Build and return the image id. Raises BuildError naming the failing step (``notes``: the
    version warnings said before it, named as the likely cause of a failure)."""
    if p.kind == "nixpacks":
        return run_nixpacks(client, p, log, cancelled)
    log.line(f"==> Building {p.tag} from " + ("the generated Dockerfile" if p.kind == "generated" else
                                              "the repository's Dockerfile, adapted for the classic builder"
                                              if p.generated else p.dockerfile))
    step = "the first step"
    # The same engine as ``client`` (DOCKER_HOST, TLS...): an untrusted build never lands on another daemon.
    api = _BuildClient(**{**docker.utils.kwargs_from_env(), "version": client.api.api_version,
                          "timeout": p.timeout + 60})
    api.extra_params = {"cpuperiod": 100_000, "cpuquota": int(p.cpus * 100_000),   # each RUN step's CPU cap
                        **({"cgroupparent": p.cgroup_parent} if p.cgroup_parent else {})}
    watchdog = Watchdog(api, p.timeout, cancelled)
    try:
        with watchdog:
            stream = api.build(path=str(p.context), dockerfile=p.dockerfile, tag=p.tag, rm=True,
                               forcerm=True, decode=True, pull=False,
                               container_limits={"memory": p.memory_mb * 1024 * 1024,
                                                 "memswap": p.memory_mb * 1024 * 1024})
            image_id = None
            output: deque[str] = deque(maxlen=80)  # the failing step's last words go into the failure reason
            lines = Lines()   # Docker's chunks may end mid-line (found in a trial: `Using` / `CPython 3` / `.11`)

            def take(line: str) -> None:
                nonlocal step
                if not line.strip():
                    return
                if STEP_RE.match(line):
                    step = line.split(" : ", 1)[0].replace("Step ", "step ") + f" ({line.split(' : ', 1)[1].strip()})"
                    output.clear()
                elif not BOOKKEEPING_RE.match(line) and clean(line).strip():
                    output.append(clean(line).strip())
                log.line(line)

            for chunk in stream:
                if "stream" in chunk:
                    text = chunk["stream"]
                    # a step's last words without a newline: Docker's own line follows on a line of its own
                    ready = lines.flush() if BOOKKEEPING_RE.match(text) or STEP_RE.match(text) else []
                    for line in ready + lines.feed(text):
                        take(line)
                    continue
                for line in lines.flush():
                    take(line)
                if "error" in chunk:
                    msg = clean(chunk.get("error", "")).strip()
                    log.line(f"ERROR: {msg}")
                    alike = alike_images(client, from_image(step)) if any(f in msg.lower() for f in PULL_FAILURES) else []
                    raise BuildError(explain_failure(p, step, msg, list(output), alike, notes))
                elif "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
            for line in lines.flush():
                take(line)
    except docker.errors.APIError as e:
        msg = (e.explanation or str(e)).strip()
        log.line(f"ERROR: {msg}")
        raise BuildError(f"Docker refused the build: {msg}; fix the Dockerfile and deploy again") from None
    except BuildError:
        raise
    except Exception as e:  # the cut connection surfaces as urllib3/http.client/requests errors
        if watchdog.reason is None:
            raise BuildError(f"build failed: {e}") from None
    finally:
        api.close()
    _stopped(p, watchdog.reason, step)
    try:
        return image_id or client.images.get(p.tag).id
    except docker.errors.ImageNotFound:
        raise BuildError(f"build finished without producing {p.tag}; check the build log") from None


def _stopped(p: BuildPlan, reason: str | None, step: str) -> None:
    if reason == "timeout":
        raise BuildError(f"build exceeded {p.timeout} s at {step} and was stopped; make the build faster "
                         "or raise RENDERLITE_BUILD_TIMEOUT")
    if reason == "cancelled":
        raise Cancelled("cancelled by a user during the build")


class _Process:
    """Lets the Watchdog stop a subprocess the way it cuts a Docker build."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def cut(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def run_nixpacks(client, p: BuildPlan, log, cancelled=lambda: False) -> str:
    """Run the nixpacks CLI (argv list, its own process group), streaming its output."""
    log.line(f"==> Building {p.tag} with Nixpacks")
    proc = subprocess.Popen(list(p.nixpacks), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True, errors="replace")
    watchdog = Watchdog(_Process(proc), p.timeout, cancelled)
    tail: list[str] = []
    with watchdog:
        for line in proc.stdout:
            log.line(line.rstrip())
            tail = (tail + [line.strip()])[-5:]
        code = proc.wait()
    _stopped(p, watchdog.reason, "the nixpacks build")
    if code != 0:
        raise BuildError(f"nixpacks build exited with code {code}: {' | '.join(t for t in tail if t)[-400:]}; "
                         "see the build log, or switch the service's builder to auto")
    try:
        return client.images.get(p.tag).id
    except docker.errors.ImageNotFound:
        raise BuildError(f"nixpacks finished without producing {p.tag}; check the build log") from None


def foreign_labels(client, tag: str) -> list[str]:
    """Routing labels the image brings itself. Docker merges image labels into the container's, so
    a Dockerfile `LABEL traefik.http.routers.x.rule=Host(...)` could route another service's host,
    and `LABEL renderlite.service=...` could pass for another service's container."""
    from edge.labels import IDENTITY

    labels = (client.images.get(tag).attrs.get("Config") or {}).get("Labels") or {}
    return sorted(k for k in labels if k.startswith("traefik.") or k in IDENTITY)


def runs_as_root(client, tag: str) -> bool:
    """Does the image's configured user run as root (no USER, 'root', uid 0 however written)?
    A name mapped to uid 0 in the image's /etc/passwd is caught when the app runs (run.process_uid)."""
    user = ((client.images.get(tag).attrs.get("Config") or {}).get("User") or "").strip().split(":")[0]
    return user in ("", "root") or (user.lstrip("+").isdigit() and int(user.lstrip("+")) == 0)
