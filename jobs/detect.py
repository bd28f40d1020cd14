"""Zero-config builds, the pure half: read a repository that has no Dockerfile and plan its build.

``detect()`` only reads files under the service's root directory (a monorepo subfolder is just
another root). Every choice lands in ``RuntimePlan.decisions`` with its reason, for the build log.
Who decides the start command, strongest first: the service's start command, a Procfile ``web:``
line, then the runtime's own convention (start script, main, one WSGI/ASGI app, config.ru, ...).
Runtimes are tried in the order of ``MARKERS``; Python comes before Node because a mixed repository
(Django with a package.json for CSS tooling) is most often a Python app. A Procfile ``web:``
command naming a runtime's tool (npm, gunicorn, bundle, ...) settles a mixed repository instead.
"""
from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import BuildError
from jobs.detect_more import first_line, inside, read_text

NODE_LTS = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12, "fermium": 14,
            "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22, "krypton": 24}
NODE_NEWEST = 24            # the newest major RenderLite knows; `lts/*` and `node` resolve to it
NODE_OLDEST = 14
# Two lockfiles and no packageManager field: the first here wins. The rarer manager's lockfile is
# the deliberate one; a stray package-lock.json is usually left behind by a plain `npm install`.
LOCKFILES = (("bun", "bun.lock"), ("bun", "bun.lockb"), ("pnpm", "pnpm-lock.yaml"),
             ("yarn", "yarn.lock"), ("npm", "package-lock.json"), ("npm", "npm-shrinkwrap.json"))
PRECEDENCE = "bun > pnpm > yarn > npm"
MARKERS = (("python", ("requirements.txt", "pyproject.toml", "Pipfile", "setup.py")),
           ("node", ("package.json",)), ("ruby", ("Gemfile",)), ("go", ("go.mod",)),
           ("static", ("index.html",)))
TOOLS = {"node": {"node", "npm", "npx", "yarn", "pnpm", "bun"}, "ruby": {"bundle", "ruby", "rails", "rackup", "puma"},
         "python": {"python", "python3", "gunicorn", "uvicorn", "hypercorn", "daphne", "waitress-serve"}}
NO_START = "add a start script to package.json, a Procfile `web:` line, or set the service's start command"


@dataclass(frozen=True)
class Decision:
    text: str                          # one build-log line, e.g. "detected pnpm (pnpm-lock.yaml)"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RuntimePlan:
    runtime: str                       # "node" | "python" | "go" | "ruby" | "static"
    version: str | None                # of the runtime (for "static" built by Node: Node's)
    package_manager: str | None
    install: list[str] | None          # shell commands run after the manifests are copied
    build: str | None
    start: str                         # run by /bin/sh -c; uses $PORT where the server needs it
    decisions: list[str]
    version_source: str = "default"
    manifests: list[str] = field(default_factory=list)   # copied before install; [] = whole source first
    setup: list[str] = field(default_factory=list)       # before the manifests: install the package manager
    after_copy: list[str] = field(default_factory=list)  # install steps that need the whole source
    env: dict[str, str] = field(default_factory=dict)
    builder: str | None = None         # "node" when a static site is built by Node first
    binary: str | None = None          # go: the package to build into ./bin/<name>
    has_dockerignore: bool = False     # False: propose dockerfile_gen.default_dockerignore()


def detect(root: Path, env: dict[str, str] | None = None, build_command: str | None = None,
           start_command: str | None = None) -> RuntimePlan:
    root, env, log = Path(root), dict(env or {}), []
    if not root.is_dir():
        raise BuildError(f"root directory {root.name!r} does not exist; check the service's root directory")
    start, build = (start_command or "").strip() or None, (build_command or "").strip() or None
    web = _procfile(root, log)
    runtime = _runtime(root, web, log)
    if start:
        log.append(f"start: `{start}` (the service's start command, which wins over everything)")
    elif web:
        log.append(f"start: `{web}` (Procfile web:)")
    if build:
        log.append(f"build: `{build}` (the service's build command)")
    plan = PLANNERS[runtime](root, env, log, build, start or web)
    dockerignore = (root / ".dockerignore").is_file()
    if not dockerignore:
        log.append("no .dockerignore: proposing one that leaves out .git, node_modules, virtualenvs and caches")
    return RuntimePlan(**plan, decisions=log, has_dockerignore=dockerignore)


def procfile_entries(text: str) -> dict[str, str]:
    """Pure: `name: command` lines (split, not a backtracking regex: a Procfile is repository input)."""
    entries = {}
    for line in text.splitlines():
        name, sep, command = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z0-9_-]+", name) and command.strip():
            entries.setdefault(name, command.strip())
    return entries


def _procfile(root: Path, log: list[str]) -> str | None:
    entries = procfile_entries(read_text(root, "Procfile") or "")
    if entries and "web" not in entries:
        log.append(f"Procfile has no web: line ({', '.join(entries)} only); the app's start command is guessed instead")
    elif len(entries) > 1:
        others = ", ".join(k + ":" for k in entries if k not in ("web", "release"))
        log.append("Procfile: using web:" + (" and release: (run before each new version starts)" if "release" in entries
                                             else "") + (f" ({others} not started here; run them as separate services)"
                                                         if others else ""))
    return entries.get("web")


def _runtime(root: Path, web: str | None, log: list[str]) -> str:
    found = {rt: f for rt, files in MARKERS for f in files[::-1] if (root / f).is_file()}
    found = {rt: found[rt] for rt, _ in MARKERS if rt in found}
    if not found:
        raise BuildError("no Dockerfile and nothing RenderLite recognises in the service's root directory (looked for "
                         "package.json, requirements.txt, pyproject.toml, Pipfile, go.mod, Gemfile, index.html); "
                         "add a Dockerfile, or check the service's root directory")
    apps = [rt for rt in found if rt != "static"] or ["static"]
    tool = Path(web.split()[0]).name if web else ""
    choice = next((rt for rt in apps if tool in TOOLS.get(rt, ())), apps[0])
    if len(apps) > 1:
        why = f"the Procfile web: command runs {tool}" if tool in TOOLS.get(choice, ()) else \
            "RenderLite tries python, node, ruby, go in that order"
        log.append(f"found {' and '.join(f'{rt} ({found[rt]})' for rt in apps)}; building as {choice}: {why}; "
                   "add a Dockerfile to build it differently")
    else:
        log.append(f"detected {choice} ({found[choice]})")
    return choice


# ---------------------------------------------------------------- node
def _node(root, env, log, build, start):
    try:
        pkg = json.loads(read_text(root, "package.json") or "")
    except (ValueError, RecursionError) as e:   # RecursionError: nested thousands deep
        raise BuildError(f"package.json is not valid JSON ({type(e).__name__}: {str(e)[:200]}); fix it and deploy again") from None
    pkg = pkg if isinstance(pkg, dict) else {}
    pm, pm_version, lock = _node_pm(root, pkg, log)
    version, source = _node_version(root, env, pkg, log)
    scripts = pkg.get("scripts") if isinstance(pkg.get("scripts"), dict) else {}
    run = "npm run" if pm == "npm" else f"{pm} run"
    build = build or (f"{run} build" if scripts.get("build") else None)
    if build and "build script" not in " ".join(log) and build == f"{run} build":
        log.append(f"build: `{build}` (build script in package.json)")
    plan = dict(runtime="node", version=str(version), version_source=source, package_manager=pm, build=build,
                env={"NODE_ENV": "production"}, **_node_install(root, pkg, pm, pm_version, lock, log))
    if start:
        return dict(plan, start=start)
    if build and _next_export(root, scripts):
        log.append("Next.js with output: 'export' in next.config: `next start` cannot serve an export, so the "
                   "site is served as static files from out/")
        return dict(plan, runtime="static", builder="node", env={}, start=STATIC_SERVER.format(dir="/app/site"))
    if scripts.get("start"):
        cmd = f"{pm} start" if pm != "bun" else "bun run start"
        log.append(f"start: `{cmd}` (start script: {scripts['start']})")
        return dict(plan, start=cmd)
    main = pkg.get("main") if isinstance(pkg.get("main"), str) else None
    for file, why in ((main, "main in package.json"), ("server.js", "server.js, npm's default start")):
        if file and (root / file).is_file() and inside(root, root / file):   # "main": "/etc/shadow" is not the app
            log.append(f"start: `node {file}` ({why}; no start script)")
            return dict(plan, start=f"node {shlex.quote(file)}")
    built = _built_main(main, build, root) if build else None
    if built:   # "main": "dist/index.js" of a TypeScript server: the build writes it (found in a trial)
        log.append(f"start: `node {built}` (main in package.json, written by the build: {build}; no start script)")
        return dict(plan, start=f"node {shlex.quote(built)}")
    if build or (root / "index.html").is_file():
        log.append("no start script or main in package.json: serving the site as static files"
                   + (" built into the first of dist/, build/, out/" if build else " from the root folder")
                   + f"; if this is a server, {NO_START}")
        site = "/app/site" if build else "/app"
        return dict(plan, runtime="static", builder="node" if build else None, env={},
                    start=STATIC_SERVER.format(dir=site))
    raise BuildError(f"package.json has no start script and no main, and there is no Procfile web: line, "
                     f"so RenderLite does not know how to start the app; {NO_START}")


BUILD_OUT = ("dist", "build", "lib", "out")


def _built_main(main: str | None, build: str, root: Path) -> str | None:
    """package.json's main as the server the build writes (dist/index.js of a TypeScript server), or
    None. Only under an output folder, or with a build that compiles TypeScript, and never for a
    site (index.html at the root): `npm init` writes "main": "index.js" into Vite sites too."""
    if not main or (root / "index.html").is_file():
        return None
    norm = posixpath.normpath(main.strip())
    if norm.startswith(("/", "../")) or norm == ".." or not re.fullmatch(r"[\w./@+-]+\.(c|m)?js", norm):
        return None
    if norm.split("/", 1)[0] not in BUILD_OUT and "tsc" not in build and not (root / "tsconfig.json").is_file():
        return None
    return norm


def _next_export(root: Path, scripts: dict) -> bool:
    """A Next.js app configured as a static export (create-next-app keeps `"start": "next start"`)."""
    if "next" not in str(scripts.get("build", "")):
        return False
    for name in ("next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs"):
        if re.search(r"""output\s*:\s*['"]export['"]""", read_text(root, name) or ""):
            return True
    return False


def _node_pm(root: Path, pkg: dict, log: list[str]) -> tuple[str, str | None, str | None]:
    locks = [(pm, f) for pm, f in LOCKFILES if (root / f).is_file()]
    field_ = pkg.get("packageManager") if isinstance(pkg.get("packageManager"), str) else ""
    m = re.match(r"^(npm|yarn|pnpm|bun)@(\d[\w.-]*)", field_)
    if m:
        pm, version = m.group(1), m.group(2)
        lock = next((f for p, f in locks if p == pm), None)
        log.append(f"detected {pm} {version} (packageManager field in package.json)"
                   + (f"; ignoring {', '.join(f for p, f in locks if p != pm)}" if len(locks) > (lock is not None) else ""))
        return pm, version, lock
    if field_:
        log.append(f"packageManager {field_!r} in package.json is not npm, yarn, pnpm or bun with a version; ignored")
    if not locks:
        _monorepo_hint(root, log)
        log.append("detected npm (no lockfile)")
        return "npm", None, None
    pm, lock = locks[0]
    if len({p for p, _ in locks}) > 1:
        log.append(f"found {' and '.join(f for _, f in locks)}; using {pm} ({lock}): no packageManager field, "
                   f"and RenderLite prefers {PRECEDENCE}; delete the other lockfile or set packageManager to choose")
    else:
        log.append(f"detected {pm} ({lock})")
    return pm, None, lock


def _monorepo_hint(root: Path, log: list[str]) -> None:
    if (root / ".git").exists():   # the repository's root: nothing above it is the repository's
        return
    parents = list(root.resolve().parents)[:4]
    top = next((p for p in parents if (p / ".git").exists()), None)
    for up in parents:
        lock = next((f for _, f in LOCKFILES if (up / f).is_file()), None)
        if lock:
            where = "at the repository's root" if up == top or top is None else \
                f"in {up.relative_to(top)}/"
            here = root.resolve().relative_to(up)
            log.append(f"no lockfile in the root directory; {lock} {where} is outside the build context, so "
                       "dependency versions are resolved afresh, and workspace packages of the repository are "
                       f"not found. For a workspace, build from {where.removeprefix('in ').removeprefix('at ')} "
                       f"instead: clear the service's root directory and set its start command (e.g. "
                       f"`node {here}/index.js`)")
            return
        if up == top:
            return


def _node_install(root, pkg, pm, pm_version, lock, log) -> dict:
    extras = [f for f in (".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", "bunfig.toml") if (root / f).is_file()]
    berry = pm == "yarn" and ((root / ".yarnrc.yml").is_file() or "__metadata:" in (read_text(root, "yarn.lock") or "")
                              or int(re.match(r"\d+", pm_version or "1").group()) >= 2)
    if pm == "yarn" and berry and (root / ".yarn").is_dir():
        extras.append(".yarn")
    frozen = {"npm": "npm ci", "yarn": "yarn install --immutable" if berry else "yarn install --frozen-lockfile",
              "pnpm": "pnpm install --frozen-lockfile", "bun": "bun install --frozen-lockfile"}[pm]
    install = frozen if lock else ("npm install" if pm == "npm" else f"{pm} install")
    if pm == "npm":
        install += " --no-audit --no-fund"
    elif pm == "pnpm":
        lv = re.search(r"^lockfileVersion:\s*'?(\d+)", read_text(root, lock) or "", re.M) if lock else None
        version = pm_version or {"9": "9", "6": "8", "5": "7"}.get(lv.group(1) if lv else "", "latest")
        setup = [f"(corepack enable 2>/dev/null && corepack prepare pnpm@{version} --activate) "
                 f"|| npm install -g pnpm@{version}"]
    elif pm == "yarn":
        setup = [f"npm install -g --force @yarnpkg/cli-dist@{pm_version or 4}"] if berry else \
            [f"yarn --version >/dev/null 2>&1 || npm install -g yarn@{pm_version or 1}"]
    else:
        setup = [f"npm install -g bun@{pm_version or 'latest'}"]
    manifests = ["package.json"] + ([lock] if lock else []) + extras
    if pkg.get("workspaces") or "pnpm-workspace.yaml" in extras:
        log.append("workspaces in package.json: the whole source is copied before installing, so every change reinstalls")
        manifests = []
    return dict(install=[install], manifests=manifests, setup=[] if pm == "npm" else setup)


def _node_version(root: Path, env: dict, pkg: dict, log: list[str]) -> tuple[int, str]:
    sources = [("NODE_VERSION", env.get("NODE_VERSION", "").strip())]
    sources += [(f, first_line(read_text(root, f))) for f in (".nvmrc", ".node-version")]
    for source, raw in sources:
        if raw:
            major = _node_alias(raw)
            if major is None:
                raise BuildError(f"{source} says {raw!r}, which RenderLite cannot turn into a Node version; write a "
                                 f"major version such as {NODE_NEWEST - 2} there, or set NODE_VERSION in the service's environment")
            log.append(f"Node {major} (from {source}" + (f": {raw})" if raw != str(major) else ")"))
            return major, source
    engines = pkg.get("engines") if isinstance(pkg.get("engines"), dict) else {}
    rng = str(engines.get("node") or "").strip()[:200]   # a range is short; the matcher is not for megabytes
    if rng:
        majors = [m for m in range(NODE_NEWEST, NODE_OLDEST - 1, -1) if _allows(rng, m)]
        if not majors:
            raise BuildError(f"engines.node in package.json is {rng!r}, which no Node major from {NODE_OLDEST} to "
                             f"{NODE_NEWEST} satisfies; fix the range or set NODE_VERSION in the service's environment")
        major = next((m for m in majors if m % 2 == 0), majors[0])
        log.append(f"Node {major} (from engines.node {rng!r}: the newest LTS major it allows)")
        return major, "engines.node"
    log.append(f"Node {NODE_NEWEST} (default: no NODE_VERSION, .nvmrc, .node-version or engines.node)")
    return NODE_NEWEST, "default"


def _node_alias(raw: str) -> int | None:
    raw = raw.lower().removeprefix("v")
    if m := re.fullmatch(r"(\d+)(\.(\d+|x))?(\.(\d+|x))?", raw):
        return int(m.group(1))
    if raw in ("node", "stable", "latest", "current", "lts/*"):
        return NODE_NEWEST
    if m := re.fullmatch(r"lts/-(\d+)", raw):
        return NODE_NEWEST - 2 * int(m.group(1))
    return NODE_LTS.get(raw.removeprefix("lts/")) if raw.startswith("lts/") else None


def _allows(rng: str, major: int) -> bool:
    """Does some version with this major satisfy the npm semver range? (the common range forms)"""
    rng = re.sub(r"(\S+)\s+-\s+(\S+)", r">=\1 <=\2", rng)
    for alt in rng.split("||"):
        lo, hi = ((major, 0, 0), True), ((major + 1, 0, 0), False)
        for op, ver in re.findall(r"(\^|~|>=|<=|>|<|=)?\s*v?(\d+(?:\.(?:\d+|x|\*)){0,2}|x|\*)", alt):
            parts = [int(p) for p in ver.split(".") if p.isdigit()]
            if not parts:
                continue
            low = tuple(parts + [0] * (3 - len(parts)))
            bump = parts[:-1] + [parts[-1] + 1] if len(parts) < 3 or op == "~" else None
            up = tuple((bump or [])[:3] + [0] * (3 - len(bump or []))) if bump else low
            if op == "^":
                up = (parts[0] + 1, 0, 0)
            if op == "~" and len(parts) == 3:
                up = (parts[0], parts[1] + 1, 0)
            full = len(parts) == 3
            bounds = {">=": [(low, True)], ">": [(low, False) if full else (up, True)], "<": [None, (low, False)],
                      "<=": [None, (low, True) if full else (up, False)]}.get(op, [(low, True), (up, not bump)])
            if bounds[0] and bounds[0] > lo:
                lo = bounds[0]
            if len(bounds) > 1 and (bounds[1][0], not bounds[1][1]) < (hi[0], not hi[1]):
                hi = bounds[1]
        if lo[0] < hi[0] or (lo[0] == hi[0] and lo[1] and hi[1]):
            return True
    return False


from jobs.detect_more import PLANNERS_MORE, STATIC_SERVER  # noqa: E402  (python, ruby, go, static planners)

PLANNERS = {"node": _node, **PLANNERS_MORE}
