"""Zero-config builds, the second pure half: a RuntimePlan becomes a Dockerfile (the build plan the
dashboard shows). Dependencies install in a layer keyed on the manifests, so a code-only change
rebuilds in seconds; the app runs as an unprivileged user (uid 10001); $PORT is honoured by the
start commands the planners choose.

Base images are settings: RENDERLITE_BASE_IMAGE_<RUNTIME> (python, node, ruby, go, static, run),
where ``{version}`` in the value is replaced by the detected version. The defaults are the usual
public images. A generated Dockerfile needs only what those images have: a Debian-like userland
with ``/bin/sh`` and ``useradd`` (or ``adduser``), plus the runtime's own tools on the PATH.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from core.errors import BuildError
from jobs.detect import RuntimePlan
from jobs.detect_more import STATIC_FILE

DEFAULT_BASES = {
    "python": "python:{version}-slim", "node": "node:{version}-slim", "ruby": "ruby:{version}-slim",
    "go": "golang:{version}", "static": "python:3.12-slim", "run": "debian:bookworm-slim",
}
UID = 10001
RUNTIME_ONLY_ENV = {"NODE_ENV", "RACK_ENV"}   # set after the build: builds need devDependencies
SITE_DIRS = ("dist", "build", "out", "public")
DOCKERIGNORE = """# Proposed by RenderLite (the repository has no .dockerignore)
.git
**/node_modules
**/.venv
**/venv
**/__pycache__
**/*.pyc
.env
.DS_Store
"""


VERSION_RE = re.compile(r"[0-9][0-9A-Za-z.+_-]{0,31}")


def base_image(kind: str, version: str | None, overrides: dict[str, str]) -> tuple[str, str]:
    """(image, where it comes from) for one stage."""
    if version is not None and not VERSION_RE.fullmatch(version):
        raise BuildError(f"{kind} version {version!r} is not a version number; fix the file or variable it came from "
                         "(the build log says which)")
    if kind in overrides:
        return overrides[kind].replace("{version}", version or ""), f"RENDERLITE_BASE_IMAGE_{kind.upper()}"
    return DEFAULT_BASES[kind].replace("{version}", version or ""), "default"


def _env(values: dict[str, str]) -> list[str]:
    return [f"ENV {k}={json.dumps(v)}" for k, v in sorted(values.items())] if values else []


def _one_line(text: str, what: str) -> str:
    """A value going into one Dockerfile line: a line break would start a new instruction."""
    if "\n" in text or "\r" in text or text.rstrip().endswith("\\"):
        raise BuildError(f"the {what} {(text.splitlines() or [''])[0][:60]!r}... spans several lines (a line break, "
                         "or a trailing backslash), which would break the generated Dockerfile; put it on one line "
                         "(join commands with &&)")
    return text


def _run(commands) -> list[str]:
    return [f"RUN {_one_line(c, 'build step')}" for c in commands if c]


SH_WORDS = {"if", "for", "while", "until", "case", "exec", "cd", "export", "set", "."}   # (, {, ! and VAR= fail the pattern


def _words(start: str) -> list[str]:
    """The shell words of a command line, quotes understood, with ; & | ( ) < > split out as
    operator words (only outside quotes); [] when the quoting is unbalanced."""
    lex = shlex.shlex(start, posix=True, punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = ""   # sh reads `a#b` as one word (shlex would cut it, hiding a `;` after it)
    try:
        return list(lex)
    except ValueError:
        return []


def _cmd(start: str) -> str:
    """``exec`` the start command (the app is PID 1's child, gets SIGTERM) when that is safe: one plain
    command, not a list or pipeline, a subshell, a keyword or a leading VAR=value (`exec FOO=1 x`
    fails). Redirections are fine. Quoting is understood: `gunicorn 'pkg:create_app()'` is one plain
    command (found in a trial: it ran under sh, which swallowed SIGTERM, so every redeploy cut the
    requests in flight)."""
    words = _words(start) if "\n" not in start else []   # a script of several lines: as written
    first = words[0] if words else ""
    operators = [w for w in words if w and set(w) <= set(";&|()<>") and not set(w) & set("<>")]
    simple = (bool(re.fullmatch(r"[\w./@:+-]+", first)) and first not in SH_WORDS and not operators
              and "{" not in words and "}" not in words)
    return "CMD " + json.dumps(["/bin/sh", "-c", f"exec {start}" if simple else start])


USER_SETUP = (f"RUN (useradd --create-home --uid {UID} app 2>/dev/null || adduser -D -u {UID} app) "
              f"&& mkdir -p /app && chown {UID}:{UID} /app")


def _deps(plan: RuntimePlan) -> list[str]:
    """Manifests first (their own layer), install, then the source and the rest."""
    lines = [f"COPY --chown={UID}:{UID} {m} ./{m}" for m in plan.manifests] + _run(plan.install)
    lines.append(f"COPY --chown={UID}:{UID} . .")
    if not plan.manifests:
        lines = [f"COPY --chown={UID}:{UID} . ."] + _run(plan.install)
    return lines + _run(plan.after_copy) + _run([plan.build])


STATIC_COPY = f"COPY {STATIC_FILE} /srv/renderlite-static.py"


def extra_files(plan: RuntimePlan) -> dict[str, str]:
    """Files the generated Dockerfile copies from the build context besides the repository's own."""
    if plan.runtime != "static":
        return {}
    return {STATIC_FILE: (Path(__file__).with_name("static_server.py")).read_text()}


def stages(plan: RuntimePlan) -> list[tuple[str, str | None]]:
    """(base image kind, version) of each FROM line ``generate`` writes, in order."""
    if plan.runtime == "go":
        return [("go", plan.version), ("run", None)]
    if plan.runtime == "static" and plan.builder == "node":
        return [("node", plan.version), ("static", None)]
    return [(plan.runtime, plan.version)]


# The variable an official image (and RenderLite's local ones) states its runtime's version in.
VERSION_ENV = {"python": "PYTHON_VERSION", "node": "NODE_VERSION", "go": "GOLANG_VERSION", "ruby": "RUBY_VERSION"}


@dataclass(frozen=True)
class Wanted:
    """A runtime version the app asked for (or the default), and the image that will provide it."""
    kind: str
    version: str | None
    source: str            # where the version came from ("default" when nothing asked)
    image: str
    templated: bool        # the image name follows the version ({version} in the setting, or a default)


def wanted_versions(plan: RuntimePlan, overrides: dict[str, str]) -> list[Wanted]:
    out = []
    for kind, version in stages(plan):
        if version is None or kind not in VERSION_ENV:
            continue
        image, _ = base_image(kind, version, overrides)
        out.append(Wanted(kind, version, plan.version_source, image,
                          kind not in overrides or "{version}" in overrides[kind]))
    return out


def version_note(w: Wanted, image_env: list[str] | None) -> str | None:
    """Pure: the build-log line comparing the version the app asked for with the base image's own
    (its PYTHON_VERSION, NODE_VERSION... as the official images state it); None when nothing to say."""
    var = VERSION_ENV[w.kind]
    have = next((e.split("=", 1)[1] for e in (image_env or []) if e.startswith(var + "=")), None)
    name = {"python": "Python", "node": "Node", "go": "Go", "ruby": "Ruby"}[w.kind]
    fix = (f"point RENDERLITE_BASE_IMAGE_{w.kind.upper()} at images named by version (e.g. "
           f"myregistry/{w.kind}:{{version}}) that include {w.version}")
    if have is not None:
        if have == w.version or have.startswith(w.version + "."):
            return f"{name} {have} in the base image {w.image}"
        if have.split(".")[:2] == w.version.split(".")[:2]:   # 3.11.4 for 3.11.9: the same minor version
            return f"{name} {have} in the base image {w.image} (the app asks for {w.version}, from {w.source}: same minor version)"
        if w.source == "default":
            return f"{name} {have}: the base image {w.image}'s (the app asks for no version)"
        return (f"WARNING: the app asks for {name} {w.version} (from {w.source}), but the base image {w.image} has "
                f"{name} {have}; a build step that needs {w.version} will fail: {fix}")
    if w.source != "default" and not w.templated:
        return (f"WARNING: RENDERLITE_BASE_IMAGE_{w.kind.upper()} names one image for every version, so the {w.kind} "
                f"version detected ({w.version}, from {w.source}) may not be what the app gets: {fix}")
    return None


def generate(plan: RuntimePlan, overrides: dict[str, str]) -> tuple[str, list[str]]:
    """(Dockerfile text, log lines naming the base images)."""
    notes: list[str] = []

    def base(kind, version):
        image, source = base_image(kind, version, overrides)
        notes.append(f"base image for {kind}: {image} ({source})")
        return image

    build_env = {k: v for k, v in plan.env.items() if k not in RUNTIME_ONLY_ENV}
    run_env = {k: v for k, v in plan.env.items() if k in RUNTIME_ONLY_ENV}
    head = [f"# Generated by RenderLite for a {plan.runtime} app; see the build log for why."]
    if plan.runtime == "go":
        lines = head + [f"FROM {base('go', plan.version)} AS build", "WORKDIR /src", *_env(build_env)]
        lines += [f"COPY {m} ./{m}" for m in plan.manifests] + _run(plan.install) + ["COPY . ."]
        lines += _run([plan.build or f"go build -trimpath -o /app/bin/app {plan.binary or '.'}"])
        lines += [f"FROM {base('run', None)}", USER_SETUP, "WORKDIR /app",
                  f"COPY --from=build --chown={UID}:{UID} /src /app",   # templates and assets next to the binary
                  f"COPY --from=build --chown={UID}:{UID} /app/bin /app/bin"]
    elif plan.runtime == "static" and plan.builder == "node":
        pick = " ".join(SITE_DIRS)
        lines = head + [f"FROM {base('node', plan.version)} AS build", "WORKDIR /app", *_run(plan.setup),
                        *_env(build_env), *[ln.replace(f"--chown={UID}:{UID} ", "") for ln in _deps(plan)],
                        f'RUN mkdir -p /site && for d in {pick}; do if [ -f "$d/index.html" ]; then '
                        f'cp -a "$d/." /site/ && echo "serving $d/" && exit 0; fi; done; '
                        f'echo "the build produced no index.html in any of {", ".join(SITE_DIRS)}; set the service\'s '
                        f'start command" >&2; exit 1',
                        f"FROM {base('static', None)}", USER_SETUP, "WORKDIR /app", STATIC_COPY,
                        f"COPY --from=build --chown={UID}:{UID} /site /app/site"]
    else:
        kind = plan.runtime
        lines = head + [f"FROM {base(kind, plan.version)}", USER_SETUP, "WORKDIR /app", *_env(build_env)]
        if kind == "python":
            lines += ["RUN python -m venv /opt/venv", 'ENV VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:$PATH"']
        lines += _run(plan.setup)
        if kind == "python":
            lines.append(f"RUN chown -R {UID}:{UID} /opt/venv")
        if kind == "static":
            lines.append(STATIC_COPY)
        lines += [f"USER {UID}", *_deps(plan)]
    lines += [f"USER {UID}", *_env(run_env), _cmd(plan.start)]
    return "\n".join(lines) + "\n", notes
