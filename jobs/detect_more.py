"""Zero-config planners for Python, Ruby, Go and static sites (Node is in detect.py).

Each planner reads files under the root directory only and returns the fields of a RuntimePlan;
every decision is appended to ``log`` with its reason. A planner that cannot find a start command
raises BuildError saying how to add one.
"""
from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path

from core.errors import BuildError

DEFAULT_PYTHON, DEFAULT_RUBY, DEFAULT_GO = "3.12", "3.3", "1.23"
ASK_START = "add a Procfile `web:` line or set the service's start command"
STATIC_FILE = ".renderlite-static.py"     # jobs/static_server.py, copied into the build context
STATIC_SERVER = "python3 /srv/renderlite-static.py {dir}"
SKIP_DIRS = {"node_modules", "venv", ".venv", "env", "tests", "test", "migrations", "site-packages", "build",
             "dist", ".git"}
ANNOTATION = r"(?:\s*:\s*[\w.]+)?"
WSGI_RE = re.compile(r"^(\w+)" + ANNOTATION + r"\s*=\s*(?:flask\.)?Flask\(|^(\w+)" + ANNOTATION +
                     r"\s*=\s*(?:bottle\.)?Bottle\(|^(\w+)" + ANNOTATION + r"\s*=\s*falcon\.(?:App|API)\(", re.M)
ASGI_RE = re.compile(r"^(\w+)" + ANNOTATION + r"\s*=\s*(?:fastapi\.)?FastAPI\(|^(\w+)" + ANNOTATION +
                     r"\s*=\s*(?:starlette\.applications\.|starlette\.)?Starlette\(|^(\w+)" + ANNOTATION +
                     r"\s*=\s*(?:quart\.)?Quart\(|^(\w+)" + ANNOTATION + r"\s*=\s*(?:litestar\.)?Litestar\(", re.M)


def inside(root: Path, path: Path) -> bool:
    """Is ``path`` (symlinks followed) inside ``root``? A repository may hold a symlink to any
    file of the server (`.nvmrc -> /etc/shadow`); detection never reads through one."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


MAX_MANIFEST = 1024 * 1024    # bytes of one manifest detection reads (a lockfile may be larger: its head is enough)


def read_text(root: Path, name: str, limit: int = MAX_MANIFEST) -> str | None:
    """A regular file inside ``root``, at most ``limit`` bytes of it; None if absent or not readable."""
    path = root / name
    if not inside(root, path) or not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def identifier_path(parts: tuple[str, ...]) -> bool:
    """Every part is a Python identifier: the module path can go into a start command as it is."""
    return all(p.isidentifier() for p in parts)


def first_line(text: str | None) -> str:
    return next((ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("#")), "")


# ---------------------------------------------------------------- python
def _python_version(root: Path, env: dict, log: list[str]) -> tuple[str, str]:
    sources = [("PYTHON_VERSION", env.get("PYTHON_VERSION", "").strip()),
               (".python-version", first_line(read_text(root, ".python-version"))),
               ("runtime.txt", first_line(read_text(root, "runtime.txt")).removeprefix("python-"))]
    for source, raw in sources:
        if raw:
            m = re.fullmatch(r"(?:cpython-|python)?(3\.\d+)(\.\d+)?(\S*)", raw)
            if not m:
                raise BuildError(f"{source} says {raw!r}, which is not a Python 3 version RenderLite can use; "
                                 f"write e.g. 3.12 there, or set PYTHON_VERSION in the service's environment")
            log.append(f"Python {m.group(1)} (from {source}" + (f": {raw})" if raw != m.group(1) else ")"))
            return m.group(1), source
    declared = _requires_python(root)
    if declared:
        where, raw = declared
        allowed = python_versions_allowed(raw)
        if DEFAULT_PYTHON in allowed:
            log.append(f"Python {DEFAULT_PYTHON} (default, which {where} allows: {raw})")
            return DEFAULT_PYTHON, "default"
        if allowed:   # the newest below the default, else the oldest above it
            minor = lambda v: int(v.split(".")[1])   # noqa: E731
            below = [v for v in allowed if minor(v) < minor(DEFAULT_PYTHON)]
            pick = below[-1] if below else allowed[0]
            log.append(f"Python {pick} (from {where}: {raw})")
            return pick, where
    log.append(f"Python {DEFAULT_PYTHON} (default: no PYTHON_VERSION, .python-version, runtime.txt or requires-python)")
    return DEFAULT_PYTHON, "default"


PYTHON_MINORS = tuple(f"3.{m}" for m in range(8, 15))


def python_versions_allowed(constraint: str) -> list[str]:
    """Pure: the Python 3 minors a requires-python (PEP 440) or Poetry constraint allows, lowest
    first; [] when it cannot be read. Upper bounds count (">=3.9,<3.12" does not allow 3.12)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    def pep440(part: str) -> str:   # Poetry's ^3.10, ~3.10, bare 3.11 and space-separated ANDs
        part = re.sub(r"\s+(?=[<>=!~^])", ",", part.strip())
        part = re.sub(r"\^\s*(\d+)\.(\d+)", r">=\1.\2,<\1.999", part)
        part = re.sub(r"(?<![~=<>!])~\s*(\d+)\.(\d+)", r">=\1.\2,<\1.\2.999", part)
        return re.sub(r"^(\d+\.\d+)(\.\*)?$", r"==\1.*", part)
    allowed: list[str] = []
    for part in constraint.split("||"):
        try:
            spec = SpecifierSet(pep440(part))
        except InvalidSpecifier:
            return []
        allowed += [v for v in PYTHON_MINORS if v not in allowed and
                    any(spec.contains(f"{v}.{p}", prereleases=True) for p in (0, 99))]
    return sorted(allowed, key=lambda v: int(v.split(".")[1]))


def _requires_python(root: Path) -> tuple[str, str] | None:
    """(where, the constraint) from pyproject.toml's requires-python or Poetry's python dependency."""
    if not (root / "pyproject.toml").is_file():
        return None
    try:
        doc = _pyproject(root)
        candidates = [("requires-python in pyproject.toml", _table(doc, "project").get("requires-python")),
                      ("Poetry's python dependency", _table(doc, "tool", "poetry", "dependencies").get("python"))]
    except BuildError:
        return None   # the install step reports a broken pyproject.toml with its own message
    return next(((where, raw.strip()) for where, raw in candidates if isinstance(raw, str) and raw.strip()), None)


def _pyproject(root: Path) -> dict:
    text = read_text(root, "pyproject.toml")
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise BuildError(f"pyproject.toml is not valid TOML ({str(e)[:200] or 'nested too deeply'}); fix it and deploy again") from None


def _table(doc: dict, *keys: str) -> dict:
    """pyproject.toml's [a.b] table: {} when absent, a clear error when it is something else."""
    for i, key in enumerate(keys):
        doc = doc.get(key, {})
        if not isinstance(doc, dict):
            raise BuildError(f"pyproject.toml: {'.'.join(keys[:i + 1])} must be a table ([{'.'.join(keys[:i + 1])}]), "
                             f"not {type(doc).__name__}; fix it and deploy again")
    return doc


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildError(f"pyproject.toml: {where} must be a list of strings, like [\"flask>=3\"]; fix it and deploy again")
    return value


def _python_install(root: Path, log: list[str]) -> tuple[str, dict, str]:
    """(package manager, plan fields, dependency text for server detection)."""
    venv = "/opt/venv"
    if (root / "requirements.txt").is_file():
        others = [f for f in ("poetry.lock", "uv.lock", "Pipfile.lock") if (root / f).is_file()]
        log.append("detected pip (requirements.txt)" + (f"; also found {', '.join(others)}, ignored: requirements.txt "
                                                        "wins because it is what pip deploys" if others else ""))
        files, local, text = requirement_files(root, "requirements.txt")
        install = ["pip install --no-cache-dir -r requirements.txt"]
        if local:   # `-e .`, `./libs/x`: pip needs the source, so install after it is copied (no cached layer)
            log.append(f"requirements.txt installs from the repository itself ({local}): dependencies install "
                       "after the source is copied")
            return "pip", dict(manifests=[], after_copy=install), text
        if len(files) > 1:
            log.append(f"requirements.txt includes {', '.join(files[1:])}: copied with it for the install")
        return "pip", dict(manifests=files, install=install), text
    project = _pyproject(root)
    if (root / "pyproject.toml").is_file():
        listed = _strings(_table(project, "project").get("dependencies"), "[project] dependencies")
        deps = " ".join(listed) + " " + " ".join(_table(project, "tool", "poetry", "dependencies"))
        if (root / "uv.lock").is_file():
            log.append("detected uv (uv.lock)")
            return "uv", dict(manifests=["pyproject.toml", "uv.lock"], setup=["pip install --no-cache-dir uv"],
                              env={"UV_PROJECT_ENVIRONMENT": venv, "UV_LINK_MODE": "copy",
                                   "UV_PYTHON": f"{venv}/bin/python", "UV_PYTHON_DOWNLOADS": "never"},
                              install=["uv sync --frozen --no-dev --no-install-project"],
                              # then the project itself, if it is a package (its [project.scripts] too);
                              # --inexact keeps a server RenderLite added (found in a trial: `uv init --package`)
                              after_copy=["uv sync --frozen --no-dev --inexact"]), deps
        if (root / "poetry.lock").is_file() or "poetry" in _table(project, "tool"):
            lock = (root / "poetry.lock").is_file()
            log.append("detected Poetry (" + ("poetry.lock" if lock else "[tool.poetry] in pyproject.toml") + ")")
            root_pkg = _poetry_root_package(root, project)
            if root_pkg:
                log.append(f"the project is a package ({root_pkg}): installed after the source is copied")
            return "poetry", dict(manifests=["pyproject.toml"] + (["poetry.lock"] if lock else []),
                                  setup=["pip install --no-cache-dir poetry"],
                                  env={"POETRY_VIRTUALENVS_CREATE": "false"},
                                  install=["poetry install --no-root --only main --no-interaction"],
                                  after_copy=["poetry install --only-root --no-interaction"] if root_pkg else []), deps
        log.append(f"detected pip (pyproject.toml, {len(listed)} dependencies in [project])")
        install = ["pip install --no-cache-dir " + " ".join(shlex.quote(d) for d in listed)] if listed else []
        return "pip", dict(manifests=["pyproject.toml"], install=install), deps
    if (root / "Pipfile").is_file():
        lock = (root / "Pipfile.lock").is_file()
        log.append("detected Pipenv (Pipfile" + (" and Pipfile.lock)" if lock else ")"))
        cmd = "pipenv install --system --deploy" if lock else "pipenv install --system --skip-lock"
        return "pipenv", dict(manifests=["Pipfile"] + (["Pipfile.lock"] if lock else []),
                              setup=["pip install --no-cache-dir pipenv"], install=[cmd]), read_text(root, "Pipfile")
    log.append("detected Python (setup.py): installing the project with pip")
    return "pip", dict(manifests=[], after_copy=["pip install --no-cache-dir ."]), ""


PY_INSTALL_RE = re.compile(r"^\s*(?:(?:pip3?|python3?\s+-m\s+pip)\s+install\b[^&;|]*\s(?:-r|--requirement)[\s=]|"
                           r"(?:pip3?|python3?\s+-m\s+pip)\s+install\s+(?:-e\s+)?\.(?:\s|$)|"
                           r"poetry\s+install\b|uv\s+sync\b|pipenv\s+install\b)")
INCLUDE_RE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")
LOCAL_RE = re.compile(r"^\s*(?:(?:-e|--editable)(?:\s*=\s*|\s+))?(\.{1,2}(?:/\S*)?|file:\S+|/\S+)(?:\s|\[|$)")


def requirement_files(root: Path, first: str, limit: int = 50) -> tuple[list[str], str | None, str]:
    """Pure: the requirement files pip reads for ``first`` (it, then what it includes with -r/-c,
    relative to the including file, inside the repository only), the first requirement that
    installs from the repository itself (`-e .`, `./lib`), or None, and all their text (for the
    server detection: gunicorn may be listed in an included file). Found in a trial: Heroku-style
    `requirements.txt` = `-r requirements/production.txt` failed, only requirements.txt was copied."""
    files, texts, local, queue = [], [], None, [first]
    while queue and len(files) < limit:
        name = queue.pop(0)
        if name in files:
            continue
        text = read_text(root, name)
        if text is None:
            continue   # pip names a missing include itself, with the path
        files.append(name)
        texts.append(text)
        for line in text.splitlines():
            line = line.split(" #", 1)[0].strip()
            m = INCLUDE_RE.match(line)
            if m:
                target = (Path(name).parent / m.group(1)).as_posix()
                norm = Path(os.path.normpath(target)).as_posix()
                if (re.fullmatch(r"[\w./-]+", norm) and not norm.startswith("../") and (root / norm).is_file()
                        and inside(root, root / norm)):
                    queue.append(norm)
            elif local is None and LOCAL_RE.match(line):
                local = line
    return files, local, "\n".join(texts)


def _poetry_root_package(root: Path, doc: dict) -> str | None:
    """Pure: where the Poetry project's own package is, if it has one to install ([tool.poetry]
    packages, or a package or module named after the project in the root or under src/); None for
    a project used for dependency management only (`poetry install` of its root would fail)."""
    poetry = _table(doc, "tool", "poetry")
    if poetry.get("package-mode") is False:
        return None
    packages = poetry.get("packages")
    if isinstance(packages, list) and packages:
        first = packages[0] if isinstance(packages[0], dict) else {}
        return f"packages: {first.get('include', '?')}" + (f" from {first['from']}" if first.get("from") else "")
    name = str(poetry.get("name") or _table(doc, "project").get("name") or "").strip().lower()
    module = re.sub(r"[-.]+", "_", name)
    if module:
        for where in (root / module, root / "src" / module):
            if (where / "__init__.py").is_file() or where.with_suffix(".py").is_file():
                return where.relative_to(root).as_posix()
    return None


NATIVE_BUILDS = (("psycopg2", ("libpq-dev",)), ("mysqlclient", ("default-libmysqlclient-dev", "pkg-config")))
NATIVE_SETUP = ("apt-get update && apt-get install -y --no-install-recommends {packages} && "
                "{{ python -c \"import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path('include') + "
                "'/Python.h'))\" || apt-get install -y --no-install-recommends python3-dev; }} && rm -rf /var/lib/apt/lists/*")
COLLECTSTATIC = ("python manage.py collectstatic --noinput || echo 'WARNING: collectstatic failed (see above), so the "
                 "site has no static files; if the settings need variables at build time, set the service build command "
                 "to e.g. `SECRET_KEY=build python manage.py collectstatic --noinput`, or set DISABLE_COLLECTSTATIC=1'")


def _collectstatic(root: Path, env: dict, deps: str | None, log: list[str]) -> str | None:
    """Django with STATIC_ROOT set: collect the static files at build time, as Heroku does (found in
    a trial: whitenoise's manifest storage answered 500 on every page without it)."""
    if not (root / "manage.py").is_file() or "django" not in (deps or "").lower():
        return None
    settings = [p for p in sorted(root.glob("*/*.py")) + sorted(root.glob("*/settings/*.py"))
                if p.parent.name not in SKIP_DIRS and inside(root, p)]
    if not any("STATIC_ROOT" in (read_text(root, p.relative_to(root).as_posix()) or "") for p in settings[:200]):
        return None
    if env.get("DISABLE_COLLECTSTATIC", "").strip() in ("1", "true", "yes"):
        log.append("Django: collectstatic skipped (DISABLE_COLLECTSTATIC)")
        return None
    log.append("Django with STATIC_ROOT: `python manage.py collectstatic --noinput` after the install "
               "(set DISABLE_COLLECTSTATIC=1 to skip it)")
    return COLLECTSTATIC


def _first(m: re.Match) -> str:
    return next(g for g in m.groups() if g)


def _python_candidates(root: Path) -> list[tuple[str, str, str]]:
    """(module:object, "wsgi"|"asgi", folder to import from: "" or "src") for each app object found
    at the top of a module: in the root, one folder down, or in a package under src/ (the layout
    `poetry new` and `uv init --package` write)."""
    found = []
    files = sorted(root.glob("*.py")) + sorted(p for p in root.glob("*/*.py") if p.parent.name not in SKIP_DIRS)
    files += sorted(p for p in root.glob("src/*/*.py") if p.parent.name not in SKIP_DIRS)
    for f in files:
        if not inside(root, f):
            continue
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        parts = f.relative_to(root).with_suffix("").parts
        appdir = ""
        if len(parts) == 3 and parts[0] == "src":
            appdir, parts = "src", parts[1:]
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not identifier_path(parts):        # `x;id;y/app.py` is no importable module
            continue
        module = ".".join(parts)
        found += [(f"{module}:{_first(m)}", "wsgi", appdir) for m in WSGI_RE.finditer(text)]
        found += [(f"{module}:{_first(m)}", "asgi", appdir) for m in ASGI_RE.finditer(text)]
        if re.search(r"^def create_app\(", text, re.M) and "flask" in text.lower():   # the app-factory pattern
            found.append((f"{module}:create_app()", "wsgi", appdir))
        if f.name == "wsgi.py" and "get_wsgi_application" in text and (root / "manage.py").is_file():
            found.append((f"{module}:application", "wsgi", appdir))
    return found


def _python(root, env, log, build, start):
    version, source = _python_version(root, env, log)
    pm, fields, deps = _python_install(root, log)
    if build and PY_INSTALL_RE.match(build):   # the service's build command is the install: it wins
        log.append(f"the service's build command installs the dependencies: RenderLite's own install "
                   f"({'; '.join(fields.get('install', []) + fields.get('after_copy', [])) or 'none'}) is skipped")
        fields.update(manifests=[], install=[], after_copy=[])
    plan = dict(runtime="python", version=version, version_source=source, package_manager=pm, build=build,
                env={"PYTHONUNBUFFERED": "1", **fields.pop("env", {})}, **fields)
    plan.setdefault("install", [])
    listed = "\n".join(ln.split("#", 1)[0] for ln in (deps or "").lower().splitlines())   # comments are not requirements
    native = [(name, pkgs) for name, pkgs in NATIVE_BUILDS if re.search(rf"(?<![\w-]){name}(?![\w-])", listed)]
    if native:   # found in a trial: psycopg2 from source needs pg_config and a compiler, as on Heroku
        packages = sorted({"gcc", "libc6-dev", *(p for _, ps in native for p in ps)})
        plan["setup"] = [NATIVE_SETUP.format(packages=" ".join(packages))] + plan.get("setup", [])
        log.append(f"{', '.join(n for n, _ in native)} build from source: installing {' '.join(packages)} "
                   "(and the Python headers if the base image lacks them)")
    static = _collectstatic(root, env, deps, log)
    if static:
        plan["after_copy"] = plan.get("after_copy", []) + [static]
    if start:
        return dict(plan, start=start)
    apps = _python_candidates(root)
    if len(apps) != 1:
        what = (f"found {len(apps)} app objects ({', '.join(a for a, _, _ in apps)})" if apps
                else "found no Flask/FastAPI/Django/Starlette app object")
        raise BuildError(f"RenderLite cannot tell how to start this Python app: it {what}; {ASK_START}, "
                         "e.g. `web: gunicorn app:app --bind 0.0.0.0:$PORT`")
    target, kind, appdir = apps[0]
    server = "gunicorn" if kind == "wsgi" else "uvicorn"
    low = (deps or "").lower()
    if server not in low:
        where = "install" if plan.get("manifests") else "after_copy"   # with the dependencies' layer if there is one
        plan[where] = plan.get(where, []) + [f"pip install --no-cache-dir {server}"]
        log.append(f"{server} is not among the dependencies: installing it to serve {target}")
    quoted = shlex.quote(target)   # 'app:create_app()'
    cmd = (f"gunicorn {quoted} --bind 0.0.0.0:$PORT" + (f" --pythonpath {appdir}" if appdir else "") if kind == "wsgi"
           else f"uvicorn {quoted} --host 0.0.0.0 --port $PORT" + (f" --app-dir {appdir}" if appdir else ""))
    log.append(f"start: `{cmd}` (the one {kind.upper()} app found: {target}" + (f", in {appdir}/)" if appdir else ")"))
    return dict(plan, start=cmd)


# ---------------------------------------------------------------- ruby
def _ruby(root, env, log, build, start):
    raw = env.get("RUBY_VERSION", "").strip() or first_line(read_text(root, ".ruby-version")).removeprefix("ruby-")
    m = re.search(r"^[ \t]*ruby[ \t]+['\"]([\d.]+)['\"]", read_text(root, "Gemfile") or "", re.M)
    version, source = (raw, "RUBY_VERSION or .ruby-version") if raw else (m.group(1), "Gemfile") if m else (DEFAULT_RUBY, "default")
    version = ".".join(version.split(".")[:2])
    log.append(f"Ruby {version} (from {source})")
    lock = (root / "Gemfile.lock").is_file()
    log.append("detected Bundler (Gemfile" + (" and Gemfile.lock)" if lock else ")"))
    plan = dict(runtime="ruby", version=version, version_source=source, package_manager="bundler", build=build,
                manifests=["Gemfile"] + (["Gemfile.lock"] if lock else []),
                env={"BUNDLE_WITHOUT": "development:test", "RACK_ENV": "production"},
                install=["bundle install --jobs 4"])
    if start:
        return dict(plan, start=start)
    gems = (read_text(root, "Gemfile.lock") or "") + (read_text(root, "Gemfile") or "")
    if (root / "bin" / "rails").is_file():
        cmd, why = "bundle exec rails server -b 0.0.0.0 -p $PORT", "bin/rails"
    elif (root / "config.ru").is_file():
        cmd, why = ("bundle exec puma -b tcp://0.0.0.0:$PORT config.ru", "config.ru, puma in the Gemfile") \
            if re.search(r"\bpuma\b", gems) else ("bundle exec rackup config.ru -o 0.0.0.0 -p $PORT", "config.ru")
    else:
        raise BuildError(f"Gemfile but no config.ru or bin/rails, so RenderLite does not know how to start the app; "
                         f"{ASK_START}")
    log.append(f"start: `{cmd}` ({why})")
    return dict(plan, start=cmd)


# ---------------------------------------------------------------- go
def _go(root, env, log, build, start):
    mod = read_text(root, "go.mod") or ""
    m = re.search(r"^go\s+(\d+\.\d+)", mod, re.M)
    raw = env.get("GO_VERSION", "").strip()
    version, source = (raw, "GO_VERSION") if raw else (m.group(1), "go.mod") if m else (DEFAULT_GO, "default")
    log.append(f"Go {version} (from {source})")
    mains = [d for d in sorted((root / "cmd").glob("*")) if d.is_dir() and list(d.glob("*.go"))
             and re.fullmatch(r"[A-Za-z0-9._-]+", d.name)]     # the name goes into a RUN line
    if list(root.glob("*.go")) and "package main" in " ".join((read_text(root, p.name) or "")[:2000]
                                                            for p in root.glob("*.go")):
        pkg, why = ".", "package main at the root"
    elif len(mains) == 1:
        pkg, why = f"./cmd/{mains[0].name}", f"the one command under cmd/ ({mains[0].name})"
    elif build or start:
        pkg, why = ".", "the service's own command"
    else:
        raise BuildError(f"go.mod but no `package main` at the root and {len(mains)} commands under cmd/, so RenderLite "
                         "does not know what to build; set the service's build and start commands")
    log.append(f"build: `go build -trimpath -o /app/bin/app {pkg}` ({why})")
    manifests = ["go.mod"] + (["go.sum"] if (root / "go.sum").is_file() else [])
    plan = dict(runtime="go", version=version, version_source=source, package_manager="go modules",
                # the standard library compiled once, in the dependencies' layer: a code-only change then
                # compiles the app alone (found in a trial: 37 s for a one-line change, std rebuilt each time)
                manifests=manifests, install=["go mod download", "go build -trimpath std"], build=build, binary=pkg,
                env={"CGO_ENABLED": "0"})
    return dict(plan, start=start or "/app/bin/app")


# ---------------------------------------------------------------- static
def _static(root, env, log, build, start):
    log.append("static site (index.html): served by a small static file server")
    site = "/app"
    return dict(runtime="static", version=None, package_manager=None, install=[], manifests=[], build=build,
                start=start or STATIC_SERVER.format(dir=site))


PLANNERS_MORE = {"python": _python, "ruby": _ruby, "go": _go, "static": _static}
