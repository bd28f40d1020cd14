"""Zero-config builds, the pure half: detection over many repository layouts, the generated
Dockerfile, and the builder choice (Dockerfile, generated, Nixpacks). No Docker here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import BuildError
from jobs import build, dockerfile_gen
from jobs.detect import detect

PKG_START = json.dumps({"name": "app", "scripts": {"start": "node server.js"}})


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return root


# (layout, runtime, package manager, start command, a decision the build log must show)
LAYOUTS = {
    "npm": ({"package.json": PKG_START, "package-lock.json": "{}"}, "node", "npm", "npm start",
            "detected npm (package-lock.json)"),
    "yarn": ({"package.json": PKG_START, "yarn.lock": "# yarn lockfile v1\n"}, "node", "yarn", "yarn start",
             "detected yarn (yarn.lock)"),
    "pnpm beats a stray npm lockfile": (
        {"package.json": PKG_START, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n", "package-lock.json": "{}"},
        "node", "pnpm", "pnpm start", "found pnpm-lock.yaml and package-lock.json; using pnpm"),
    "bun": ({"package.json": PKG_START, "bun.lock": "{}"}, "node", "bun", "bun run start", "detected bun (bun.lock)"),
    "packageManager field wins over lockfiles": (
        {"package.json": json.dumps({"packageManager": "yarn@4.1.0", "scripts": {"start": "node s.js"}}),
         "package-lock.json": "{}"}, "node", "yarn", "yarn start", "packageManager field in package.json"),
    "packageManager with a pre-release version": (   # found in review: int("3-rc") crashed detection
        {"package.json": json.dumps({"packageManager": "yarn@3-rc.1", "scripts": {"start": "node s.js"}}),
         "yarn.lock": "# yarn lockfile v1\n"}, "node", "yarn", "yarn start", "detected yarn 3-rc.1"),
    "node main without start script": (
        {"package.json": json.dumps({"main": "index.js"}), "index.js": ""}, "node", "npm", "node index.js",
        "main in package.json"),
    "node server.js default": ({"package.json": "{}", "server.js": ""}, "node", "npm", "node server.js",
                               "npm's default start"),
    "pip + one Flask app": ({"requirements.txt": "flask\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"},
                            "python", "pip", "gunicorn app:app --bind 0.0.0.0:$PORT", "the one WSGI app found"),
    "pip + FastAPI in a package": (
        {"requirements.txt": "fastapi\nuvicorn\n", "api/main.py": "from fastapi import FastAPI\napi = FastAPI()\n"},
        "python", "pip", "uvicorn api.main:api --host 0.0.0.0 --port $PORT", "the one ASGI app found"),
    "Django": ({"requirements.txt": "django\ngunicorn\n", "manage.py": "",
                "site/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"},
               "python", "pip", "gunicorn site.wsgi:application --bind 0.0.0.0:$PORT", "WSGI"),
    "poetry": ({"pyproject.toml": "[tool.poetry]\nname='x'\n", "poetry.lock": "", "Procfile": "web: python app.py\n"},
               "python", "poetry", "python app.py", "detected Poetry (poetry.lock)"),
    "uv": ({"pyproject.toml": "[project]\nname='x'\ndependencies=['flask']\n", "uv.lock": "",
            "Procfile": "web: flask run\n"}, "python", "uv", "flask run", "detected uv (uv.lock)"),
    "pipenv": ({"Pipfile": "[packages]\n", "Pipfile.lock": "{}", "Procfile": "web: python app.py\n"},
               "python", "pipenv", "python app.py", "detected Pipenv (Pipfile and Pipfile.lock)"),
    "Procfile web and worker: web always": (
        {"requirements.txt": "", "Procfile": "worker: python w.py\nweb: python web.py\n"}, "python", "pip",
        "python web.py", "worker: not started here"),
    "Procfile web settles a mixed repository": (
        {"requirements.txt": "", "package.json": PKG_START, "Procfile": "web: npm start\n"}, "node", "npm", "npm start",
        "the Procfile web: command runs npm"),
    "mixed repository without Procfile: python first, and why": (
        {"requirements.txt": "", "package.json": PKG_START, "Procfile": "web: gunicorn a:b\n"}, "python", "pip",
        "gunicorn a:b", "found python (requirements.txt) and node (package.json)"),
    "go at the root": ({"go.mod": "module x\n\ngo 1.19\n", "main.go": "package main\nfunc main() {}\n"},
                       "go", "go modules", "/app/bin/app", "package main at the root"),
    "go with one command": ({"go.mod": "module x\n", "cmd/api/main.go": "package main\n"}, "go", "go modules",
                            "/app/bin/app", "the one command under cmd/ (api)"),
    "ruby rack with puma": ({"Gemfile": "gem 'rack'\ngem 'puma'\n", "config.ru": "run ->(e){[200,{},['']]}\n"},
                            "ruby", "bundler", "bundle exec puma -b tcp://0.0.0.0:$PORT config.ru", "config.ru"),
    "static site": ({"index.html": "<h1>hi</h1>"}, "static", None, "python3 /srv/renderlite-static.py /app", "static site"),
    "Next.js static export": (
        {"package.json": json.dumps({"scripts": {"build": "next build", "start": "next start"}}),
         "next.config.mjs": "const nextConfig = { output: 'export' };\nexport default nextConfig;\n"},
        "static", "npm", "python3 /srv/renderlite-static.py /app/site", "Next.js with output: 'export'"),
    "static site built by node": (
        {"package.json": json.dumps({"scripts": {"build": "node build.js"}}), "build.js": ""}, "static", "npm",
        "python3 /srv/renderlite-static.py /app/site", "serving the site as static files"),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_detection(tmp_path, name):
    files, runtime, pm, start, why = LAYOUTS[name]
    plan = detect(write(tmp_path, files))
    assert (plan.runtime, plan.package_manager) == (runtime, pm)
    assert plan.start.startswith(start), plan.start
    assert any(why in d for d in plan.decisions), plan.decisions


@pytest.mark.parametrize("files,env,version,source", [
    ({".nvmrc": "lts/iron\n"}, {}, "20", ".nvmrc"),
    ({".nvmrc": "lts/*\n"}, {}, "24", ".nvmrc"),
    ({".node-version": "v18.17.0\n"}, {}, "18", ".node-version"),
    ({".nvmrc": "18\n"}, {"NODE_VERSION": "22"}, "22", "NODE_VERSION"),
    ({"package.json": json.dumps({"engines": {"node": ">=18 <21"}, "scripts": {"start": "x"}})}, {}, "20",
     "engines.node"),
    ({"package.json": json.dumps({"engines": {"node": "^16.14.0"}, "scripts": {"start": "x"}})}, {}, "16",
     "engines.node"),
    ({}, {}, "24", "default"),
])
def test_node_version(tmp_path, files, env, version, source):
    files = {"package.json": PKG_START, **files}
    plan = detect(write(tmp_path, files), env=env)
    assert (plan.version, plan.version_source) == (version, source)


@pytest.mark.parametrize("files,version", [
    ({".python-version": "3.11.4\n"}, "3.11"), ({"runtime.txt": "python-3.10.12\n"}, "3.10"), ({}, "3.12"),
    # found in a trial: a uv project requiring >=3.12 was planned as the default and built on 3.11
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.13"\n'}, "3.13"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\n'}, "3.12"),   # a minimum the default meets
    ({"pyproject.toml": '[project]\nrequires-python = "==3.10.*"\n'}, "3.10"),
    # upper bounds count (found in review: ">=3.9,<3.12" was built as 3.12)
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.9,<3.12"\n'}, "3.11"),
    ({"pyproject.toml": '[project]\nrequires-python = "!=3.12.*,>=3.10"\n'}, "3.11"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "~3.10"\n'}, "3.10"),
    ({"pyproject.toml": '[project]\nrequires-python = "nonsense"\n'}, "3.12"),
    ({"pyproject.toml": '[project]\nrequires-python = "~=3.11.0"\n', ".python-version": "3.12\n"}, "3.12"),
])
def test_python_version(tmp_path, files, version):
    plan = detect(write(tmp_path, {"requirements.txt": "", "Procfile": "web: python a.py\n", **files}))
    assert plan.version == version


@pytest.mark.parametrize("files,message", [
    ({"package.json": "{}"}, "add a start script to package.json, a Procfile `web:` line, or set the service's start"),
    ({"package.json": "{nope"}, "package.json is not valid JSON"),
    ({"package.json": PKG_START, ".nvmrc": "lts/nosuchname\n"}, ".nvmrc says 'lts/nosuchname'"),
    ({"package.json": json.dumps({"engines": {"node": "<4"}, "scripts": {"start": "x"}})}, "no Node major"),
    ({"requirements.txt": "flask\n"}, "found no Flask/FastAPI/Django/Starlette app object"),
    ({"requirements.txt": "", "a.py": "app = Flask(x)\n", "b.py": "app = FastAPI()\n"}, "found 2 app objects"),
    ({"requirements.txt": "", ".python-version": "2.7\n"}, "not a Python 3 version"),
    ({"pyproject.toml": "[project\n"}, "pyproject.toml is not valid TOML"),
    ({"Gemfile": "gem 'rack'\n"}, "no config.ru or bin/rails"),
    ({"go.mod": "module x\n", "cmd/a/main.go": "", "cmd/b/main.go": ""}, "2 commands under cmd/"),
    ({"README.md": "hi", "app.py": "print(1)"}, "nothing RenderLite recognises"),
    # odd repository contents (found by a review): a blank web: line, a command folder named to inject
    ({"requirements.txt": "", "Procfile": "web:    \n"}, "cannot tell how to start"),
    ({"go.mod": "module x\n", "cmd/x;true;#\\/main.go": "package main\n"}, "0 commands under cmd/"),
    # manifests of unexpected shapes (found by a review: internal errors, or `pip install f l a s k`)
    ({"pyproject.toml": 'project = "x"\n'}, r"project must be a table"),
    ({"pyproject.toml": 'tool = "poetry"\n'}, r"tool must be a table"),
    ({"pyproject.toml": "[project]\ndependencies = [5]\n"}, "must be a list of strings"),
    ({"pyproject.toml": '[project]\ndependencies = "flask"\n'}, "must be a list of strings"),
    ({"pyproject.toml": '[tool.poetry]\ndependencies = ["a"]\n'}, r"tool.poetry.dependencies must be a table"),
    ({"package.json": "[" * 100_000}, "package.json is not valid JSON"),
    ({"package.json": json.dumps({"main": "/etc/passwd"})}, "add a start script"),   # not a file of the app
])
def test_detection_failures_say_what_to_do(tmp_path, files, message):
    with pytest.raises(BuildError) as e:
        detect(write(tmp_path, files))
    assert message in str(e.value)


def test_service_commands_win_over_everything(tmp_path):
    plan = detect(write(tmp_path, {"package.json": json.dumps({"scripts": {"start": "a", "build": "b"}}),
                                   "Procfile": "web: node p.js\n"}),
                  build_command="make site", start_command="node custom.js")
    assert plan.start == "node custom.js" and plan.build == "make site"
    assert any("the service's start command, which wins" in d for d in plan.decisions)


def test_monorepo_subfolder_reads_only_its_root_and_says_where_the_lockfile_is(tmp_path):
    write(tmp_path, {".git/HEAD": "", "pnpm-lock.yaml": "", "apps/web/package.json": PKG_START,
                     "requirements.txt": "flask\n"})
    plan = detect(tmp_path / "apps" / "web")
    assert plan.runtime == "node" and plan.package_manager == "npm"
    hint = next(d for d in plan.decisions if "outside the build context" in d)
    # found in a trial: it named the platform's checkout folder (src/) and gave no way out for a workspace
    assert "pnpm-lock.yaml at the repository's root" in hint and "clear the service's root directory" in hint
    assert "`node apps/web/index.js`" in hint


def test_generated_dockerfile_layers_deps_first_runs_unprivileged_and_honours_port(tmp_path):
    plan = detect(write(tmp_path, {"package.json": json.dumps({"scripts": {"start": "node s.js", "build": "tsc"}}),
                                   "package-lock.json": "{}", ".nvmrc": "20\n"}))
    text, notes = dockerfile_gen.generate(plan, {"node": "registry.local/node:{version}"})
    lines = text.splitlines()
    assert lines[1] == "FROM registry.local/node:20"
    assert "RENDERLITE_BASE_IMAGE_NODE" in notes[0]
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in
             ("COPY --chown=10001:10001 package.json", "COPY --chown=10001:10001 package-lock.json",
              "RUN npm ci", "COPY --chown=10001:10001 . .", "RUN npm run build", 'ENV NODE_ENV="production"', "CMD")]
    assert order == sorted(order), "manifests, install, source, build, runtime env, start: in that order"
    assert lines[-2] == 'ENV NODE_ENV="production"' and lines[-3] == "USER 10001"
    assert json.loads(lines[-1][4:]) == ["/bin/sh", "-c", "exec npm start"]


def test_generated_go_and_node_static_builds_are_multi_stage(tmp_path):
    go = detect(write(tmp_path / "go", {"go.mod": "module x\n\ngo 1.21\n", "main.go": "package main\n"}))
    text, _ = dockerfile_gen.generate(go, {})
    assert text.count("FROM ") == 2 and "FROM golang:1.21 AS build" in text and "COPY --from=build" in text
    assert dockerfile_gen.stages(go) == [("go", "1.21"), ("run", None)]
    site = detect(write(tmp_path / "site", {"package.json": json.dumps({"scripts": {"build": "vite build"}})}))
    text, _ = dockerfile_gen.generate(site, {"static": "local/static"})
    assert "FROM local/static" in text and "COPY --from=build --chown=10001:10001 /site /app/site" in text


@pytest.mark.parametrize("web,cmd", [
    ("python migrate.py && python app.py", "python migrate.py && python app.py"),
    ("( node server.js )", "( node server.js )"),                 # found in review: `exec ( ...` is a syntax error
    ("FOO=bar node server.js", "FOO=bar node server.js"),         # `exec FOO=bar ...` runs a command named FOO=bar
    ("if true; then node s.js; fi", "if true; then node s.js; fi"),
    ("node server.js --port $PORT", "exec node server.js --port $PORT"),
    ("bin/rails server -b 0.0.0.0", "exec bin/rails server -b 0.0.0.0"),
    # found in a trial: a quoted '(' read as a subshell left gunicorn under sh, deaf to SIGTERM
    ("gunicorn 'flaskr:create_app()' --bind 0.0.0.0:$PORT", "exec gunicorn 'flaskr:create_app()' --bind 0.0.0.0:$PORT"),
    ('node server.js --name "a;b" > /tmp/log 2>&1', 'exec node server.js --name "a;b" > /tmp/log 2>&1'),
    ("node a.js | tee log", "node a.js | tee log"),
    ("node a.js &", "node a.js &"),
    ("node a.js 'unbalanced", "node a.js 'unbalanced"),
    ("{ node a.js; }", "{ node a.js; }"),
    # found in review: shlex read `#` as a comment and hid the `;` after it
    ("node app.js --tag=a#b; node other.js", "node app.js --tag=a#b; node other.js"),
])
def test_start_commands_are_exec_wrapped_only_when_safe(tmp_path, web, cmd):
    plan = detect(write(tmp_path, {"requirements.txt": "", "Procfile": f"web: {web}\n"}))
    text, _ = dockerfile_gen.generate(plan, {})
    assert json.loads(text.splitlines()[-1][4:]) == ["/bin/sh", "-c", cmd]


# -------------------------------------------------------------- builder choice
def request(tmp_path, **kw) -> build.BuildRequest:
    return build.BuildRequest(checkout=tmp_path, tag="t:1", timeout=60, **kw)


def test_auto_uses_the_repositorys_dockerfile_when_there_is_one(tmp_path):
    write(tmp_path, {"apps/web/Dockerfile": "FROM scratch\n", "apps/web/package.json": PKG_START})
    p = build.plan(request(tmp_path, root_dir="apps/web"))
    assert (p.kind, p.dockerfile, p.generated) == ("dockerfile", "Dockerfile", None)
    assert p.context == (tmp_path / "apps" / "web").resolve()


def test_auto_without_dockerfile_generates_one_and_keeps_it_out_of_the_image(tmp_path):
    write(tmp_path, {"package.json": PKG_START, ".dockerignore": "secrets/\n"})
    p = build.plan(request(tmp_path, base_images={"node": "local/node:18"}))
    assert p.kind == "generated" and p.runtime == "node" and p.dockerfile == build.GENERATED
    assert p.generated.splitlines()[1] == "FROM local/node:18"
    assert p.dockerignore.splitlines() == ["secrets/", build.GENERATED], "the repo's own .dockerignore is kept"
    assert ("local/node:18", "RENDERLITE_BASE_IMAGE_NODE") in p.base_vars
    build.prepare(p)
    assert (tmp_path / build.GENERATED).read_text() == p.generated


@pytest.mark.parametrize("kw,message", [
    (dict(builder="dockerfile"), "no Dockerfile at 'Dockerfile' in the repository; add one"),
    (dict(dockerfile_path="docker/Dockerfile.prod"), "no Dockerfile at 'docker/Dockerfile.prod'"),
    (dict(root_dir="nope"), "root directory 'nope' does not exist"),
    (dict(dockerfile_path="../../etc/passwd"), "points outside the root directory"),
    (dict(builder="nixpacks"), "no `nixpacks` binary on its PATH"),
])
def test_builder_choice_failures(tmp_path, kw, message):
    write(tmp_path, {"package.json": PKG_START})
    with pytest.raises(BuildError) as e:
        build.plan(request(tmp_path, **kw))
    assert message in str(e.value)


def test_a_manifest_detection_did_not_foresee_fails_the_build_clearly(tmp_path, monkeypatch):
    """Whatever shape of file still trips detection ends as a BuildError naming the way out, never
    the worker's "internal error"."""
    from jobs import detect as detect_module

    def trips(*_a, **_k):
        return {}.get("scripts")["start"]   # TypeError, as a manifest of an unforeseen shape would raise
    monkeypatch.setattr(detect_module, "detect", trips)
    write(tmp_path, {"package.json": PKG_START})
    with pytest.raises(BuildError, match=r"could not read this repository's manifests .*TypeError.*add a Dockerfile"):
        build.plan(request(tmp_path))


def test_nixpacks_plan_is_an_argv_list(tmp_path):
    write(tmp_path, {"package.json": PKG_START})
    p = build.plan(request(tmp_path, builder="nixpacks", start_command="node s.js; rm -rf /"),
                   nixpacks_bin="/usr/local/bin/nixpacks")
    assert p.kind == "nixpacks"
    argv = list(p.nixpacks)
    assert argv[:5] == ["/usr/local/bin/nixpacks", "build", str(tmp_path.resolve()), "--name", "t:1"]
    assert argv[argv.index("--start-cmd") + 1] == "node s.js; rm -rf /"


@pytest.mark.parametrize("step,msg,kind,needle", [
    ("step 1/9 (FROM python:3.12-slim)", "pull access denied for python, repository does not exist", "generated",
     "set RENDERLITE_BASE_IMAGE_PYTHON to an image this server has"),
    ("step 1/3 (FROM acme/app:1)", "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup x: no such host",
     "dockerfile", "use a base image this server has"),
    ("step 7/9 (RUN npm ci)", "The command '/bin/sh -c npm ci' returned a non-zero code: 1", "generated",
     "the build plan shows the generated Dockerfile"),
    ("step 2/3 (RUN exit 3)", "returned a non-zero code: 3", "dockerfile", "fix that step in the Dockerfile"),
])
def test_build_failures_are_explained(step, msg, kind, needle):
    p = build.BuildPlan(context=Path("/x"), dockerfile="Dockerfile", tag="t:1", timeout=1, kind=kind,
                        base_vars=(("python:3.12-slim", "RENDERLITE_BASE_IMAGE_PYTHON"),))
    assert needle in build.explain_failure(p, step, msg)


@pytest.mark.parametrize("source,target", [
    ("import flask\napp = flask.Flask(__name__)\n", "app:app"),
    ("from fastapi import FastAPI\napi: FastAPI = FastAPI()\n", "app:api"),
    ("import starlette.applications\nserver = starlette.applications.Starlette()\n", "app:server"),
    ("import falcon\napplication = falcon.App()\n", "app:application"),
])
def test_app_objects_written_the_other_usual_ways(tmp_path, source, target):
    plan = detect(write(tmp_path, {"requirements.txt": "", "app.py": source}))
    assert target in plan.start


def test_app_in_a_package_init_is_named_by_its_package(tmp_path):
    plan = detect(write(tmp_path, {"requirements.txt": "", "web/__init__.py": "app = Flask(__name__)\n"}))
    assert plan.start.startswith("gunicorn web:app ")


def test_detection_never_reads_through_a_symlink_out_of_the_repository(tmp_path):
    """A repository that links its version files or Procfile to server files (the installation's
    secret key, /etc/passwd) must not get their contents into its build log or error message."""
    secret = tmp_path / "server" / "secret.key"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET-KEY-MATERIAL\n")
    repo = write(tmp_path / "repo", {"requirements.txt": "", "app.py": "app = Flask(__name__)\n"})
    for name in (".python-version", "runtime.txt", "Procfile"):
        (repo / name).symlink_to(secret)
    plan = detect(repo)
    assert plan.version_source == "default" and plan.start.startswith("gunicorn app:app")
    assert "TOP-SECRET" not in " ".join(plan.decisions)
    (repo / "app.py").unlink()
    (repo / "app.py").symlink_to(secret)
    with pytest.raises(BuildError) as e:
        detect(repo)
    assert "TOP-SECRET" not in str(e.value)


def test_a_lockfile_outside_the_repository_is_never_mentioned(tmp_path):
    write(tmp_path, {"package-lock.json": "{}", "repo/.git/HEAD": "", "repo/package.json": PKG_START})
    plan = detect(tmp_path / "repo")
    assert not any("outside the build context" in d for d in plan.decisions)


def test_prepare_replaces_symlinks_instead_of_writing_through_them(tmp_path):
    victim = tmp_path / "server-file"
    victim.write_text("precious\n")
    repo = write(tmp_path / "repo", {"index.html": "<p>hi</p>"})
    (repo / build.GENERATED).symlink_to(victim)
    (repo / ".dockerignore").symlink_to(victim)
    p = build.plan(request(repo))
    assert "precious" not in p.dockerignore, "a .dockerignore pointing out of the repository is not read"
    build.prepare(p)
    assert victim.read_text() == "precious\n"
    assert not (repo / build.GENERATED).is_symlink() and (repo / build.GENERATED).read_text() == p.generated


@pytest.mark.parametrize("files,env,message", [
    ({"Gemfile": "gem 'rack'\n", "config.ru": "", ".ruby-version": "3.3 AS evil"}, {}, "is not a version number"),
    ({"go.mod": "module x\n", "main.go": "package main\n"}, {"GO_VERSION": "1.22\nRUN curl evil | sh"},
     "is not a version number"),
    ({"pyproject.toml": "[project]\nname='x'\ndependencies=[\"flask\\nUSER root\"]\n", "Procfile": "web: x\n"}, {},
     "spans several lines"),
])
def test_nothing_from_a_repository_or_a_variable_adds_a_dockerfile_instruction(tmp_path, files, env, message):
    plan = detect(write(tmp_path, files), env=env)
    with pytest.raises(BuildError) as e:
        dockerfile_gen.generate(plan, {})
    assert message in str(e.value)


# -------------------------------------------------------------- hostile repositories (each found by a review)
@pytest.mark.parametrize("files", [
    {"package.json": json.dumps({"engines": {"node": "a" * 200_000}, "scripts": {"start": "x"}})},
    {"requirements.txt": "", "Procfile": "web: a" + " " * 200_000 + "b\n"},
    {"Gemfile": "\n" * 200_000 + "gem 'rack'\n", "config.ru": ""},
])
def test_detection_of_pathological_manifests_is_fast(tmp_path, files):
    import multiprocessing

    def run():
        try:
            detect(write(tmp_path, files))
        except BuildError:
            pass

    # In a child process: a regression (a backtracking regex) would otherwise hang the suite for hours.
    child = multiprocessing.get_context("fork").Process(target=run)
    child.start()
    child.join(1.0)
    stuck = child.is_alive()
    child.kill()
    child.join()
    assert not stuck, "detection took over 1 s on a pathological manifest"


def test_unimportable_module_paths_are_not_start_commands(tmp_path):
    plan = detect(write(tmp_path, {"requirements.txt": "", "x;id;y/app.py": "app = Flask(__name__)\n",
                                   "main.py": "app = FastAPI()\n"}))
    assert plan.start == "uvicorn main:app --host 0.0.0.0 --port $PORT"


def test_a_trailing_backslash_cannot_swallow_the_next_instruction(tmp_path):
    plan = detect(write(tmp_path, {"index.html": ""}), build_command="make site \\")
    with pytest.raises(BuildError, match="trailing backslash"):
        dockerfile_gen.generate(plan, {})
    with pytest.raises(BuildError, match="not a version number"):
        dockerfile_gen.base_image("go", "1.22\n", {})


@pytest.mark.parametrize("make", [
    lambda r: (r / ".dockerignore").symlink_to("/dev/zero"),
    lambda r: (r / ".dockerignore").mkdir(),
    lambda r: (r / ".dockerignore").write_text("x" * 300_000),
])
def test_a_dockerignore_that_is_no_plain_file_is_refused(tmp_path, make):
    repo = write(tmp_path, {"Dockerfile": "FROM scratch\n"})
    make(repo)
    with pytest.raises(BuildError, match=".dockerignore in the repository is not a regular file"):
        build.plan(request(repo))


def test_a_folder_where_the_generated_dockerfile_goes_is_a_clear_error(tmp_path):
    repo = write(tmp_path, {"index.html": "", f"{build.GENERATED}/x": ""})
    with pytest.raises(BuildError, match="folder named"):
        build.prepare(build.plan(request(repo)))


def test_a_base_image_that_ignores_the_detected_version_is_called_out(tmp_path):
    plan = detect(write(tmp_path, {"package.json": PKG_START}), env={"NODE_VERSION": "22"})
    [w] = dockerfile_gen.wanted_versions(plan, {"node": "local/node:18"})
    assert dockerfile_gen.version_note(w, None).startswith(
        "WARNING: RENDERLITE_BASE_IMAGE_NODE names one image for every version") and "(22, from NODE_VERSION)" in \
        dockerfile_gen.version_note(w, None)
    [w] = dockerfile_gen.wanted_versions(plan, {"node": "local/node:{version}"})
    assert w.image == "local/node:22" and dockerfile_gen.version_note(w, None) is None


PY = "renderlite-base/python:3.11"


@pytest.mark.parametrize("version,source,image_env,says", [
    # found in a trial: 3.12 planned by default, built on 3.11 in silence; 3.11 asked for and warned about
    ("3.12", "default", ["PYTHON_VERSION=3.11"], "Python 3.11: the base image renderlite-base/python:3.11's"),
    ("3.11", ".python-version", ["PATH=/usr/bin", "PYTHON_VERSION=3.11"], "Python 3.11 in the base image"),
    ("3.11", ".python-version", ["PYTHON_VERSION=3.11.9"], "Python 3.11.9 in the base image"),
    ("3.12", "requires-python in pyproject.toml", ["PYTHON_VERSION=3.11"],
     "WARNING: the app asks for Python 3.12 (from requires-python in pyproject.toml), but the base image "
     "renderlite-base/python:3.11 has Python 3.11"),
    ("3.1", ".python-version", ["PYTHON_VERSION=3.11"], "WARNING: the app asks for Python 3.1 "),
])
def test_the_base_images_own_version_is_checked_against_the_apps(version, source, image_env, says):
    w = dockerfile_gen.Wanted("python", version, source, PY, templated=False)
    assert dockerfile_gen.version_note(w, image_env).startswith(says)
def test_local_node_images_follow_the_version_and_the_default_matches_detection():
    from jobs import base_images
    from jobs.detect import NODE_NEWEST

    assert base_images.NODE_DEFAULT == NODE_NEWEST
    assert base_images.OVERRIDES["node"] == "renderlite-base/node:{version}"
    assert "node@20" in base_images.node_recipe(20)
    assert base_images.NODE_RE.match("renderlite-base/node:20") and not base_images.NODE_RE.match("node:20")


def test_a_failed_step_says_what_it_printed_last():
    p = build.BuildPlan(context=Path("/x"), dockerfile="Dockerfile", tag="t:1", timeout=1, kind="generated")
    msg = build.explain_failure(p, "step 10/14 (RUN pip install -r requirements.txt)",
                                "The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero code: 1",
                                ["Collecting nope-xyz==1.0", "ERROR: No matching distribution found for nope-xyz==1.0"])
    assert "(last output: ERROR: No matching distribution found for nope-xyz==1.0)" in msg


def test_the_telling_lines_of_a_failed_npm_install_are_kept():
    lines = ["npm error code E404", "npm error 404 Not Found - GET https://registry.npmjs.org/nope-xyz - Not found",
             "npm error 404", "npm error 404  'nope-xyz@*' is not in this registry.",
             "npm error A complete log of this run can be found in: /home/app/.npm/_logs/x.log"]
    assert build.telling(lines) == lines[0:4]
    assert build.telling(["compiling", "done badly"]) == ["compiling", "done badly"]


@pytest.mark.parametrize("lines,cause", [   # found in a trial: the last three error lines lost the cause
    (["npm error code E404", "npm error 404 Not Found - GET https://registry.npmjs.org/@mono%2fshared - Not found",
      "npm error 404", "npm error 404  '@mono/shared@*' is not in this registry.",
      "npm error 404 Note that you can also install from a", "npm error 404 tarball, folder, http url, or git url."],
     "is not in this registry"),
    (["go: downloading nothing", "go: errors parsing go.mod:",
      "/src/go.mod:3: invalid go version '1.22.1': must match format 1.23"], "invalid go version '1.22.1'"),
    (["Collecting pretty-errors", *[f"Downloading pkg{i}.whl" for i in range(5)],   # a package named like an error
      "ERROR: No matching distribution found for nope-xyz==1.0"], "No matching distribution found for nope-xyz"),
])
def test_a_failed_steps_cause_is_kept_even_when_more_lines_follow(lines, cause):
    assert any(cause in ln for ln in build.telling(lines))


def test_a_flask_app_factory_is_started_through_gunicorn(tmp_path):
    plan = detect(write(tmp_path, {"requirements.txt": "flask\n", "web/__init__.py":
                                   "from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n"}))
    assert plan.start == "gunicorn 'web:create_app()' --bind 0.0.0.0:$PORT"


def test_static_sites_get_the_static_server_file_in_their_context(tmp_path):
    repo = write(tmp_path, {"index.html": "<p>hi</p>"})
    p = build.plan(request(repo))
    assert [name for name, _ in p.files] == [".renderlite-static.py"]
    assert "COPY .renderlite-static.py /srv/renderlite-static.py" in p.generated
    build.prepare(p)
    assert "def _fallback" in (repo / ".renderlite-static.py").read_text()


def test_the_static_server_serves_clean_urls_and_single_page_apps_and_never_dotfiles(tmp_path):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    site = write(tmp_path, {"index.html": "HOME", "about.html": "ABOUT", "docs/index.html": "DOCS",
                            "assets/app.js": "JS", ".env": "SECRET=1", ".git/config": "[core]"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(Path(build.__file__).with_name("static_server.py")), str(site)],
                            env={"PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        get = lambda path: httpx.get(base + path, timeout=5)
        assert get("/").text == "HOME" and get("/about").text == "ABOUT" and get("/docs/").text == "DOCS"
        assert get("/assets/app.js").text == "JS"
        assert get("/users/42/settings").text == "HOME", "a client-side route loads the app"
        assert get("/missing.js").status_code == 404, "a missing asset is still a 404"
        assert get("/.env").status_code == 404 and get("/.git/config").status_code == 404
        for hidden in ("/%2eenv", "/%2Egit/config", "/assets/..%2f.env", "/x/%2e%2e/.env"):   # found in review
            assert get(hidden).status_code == 404, hidden
        assert get("/about?x=1").text == "ABOUT"
        assert "Directory listing" not in get("/assets/").text, "no directory listing"
        (site / ".well-known").mkdir()
        (site / ".well-known" / "security.txt").write_text("Contact: x")
        assert get("/.well-known/security.txt").text == "Contact: x"
        (site / "404.html").write_text("NOT HERE")
        r = get("/nope")
        assert (r.status_code, r.text) == (404, "NOT HERE"), "a site's own 404 page, with its status"
        assert get("/.env").status_code == 404 and get("/about").text == "ABOUT"
    finally:
        proc.terminate()


def test_requirements_includes_are_copied_with_it_and_read_for_the_server(tmp_path):
    """Found in a trial (cookiecutter-django / Heroku layout): only requirements.txt was copied
    before `pip install -r requirements.txt`, so its `-r requirements/production.txt` was missing."""
    plan = detect(write(tmp_path, {
        "requirements.txt": "# Heroku\n-r requirements/production.txt\n",
        "requirements/production.txt": "-r base.txt\n--constraint=../constraints.txt\ngunicorn==23.0.0  # server\n",
        "requirements/base.txt": "Django==5.1.4\n-r base.txt\n-r missing.txt\n",
        "constraints.txt": "sqlparse<1\n",
        "requirements/local.txt": "-r base.txt\npytest\n",
        "manage.py": "", "mysite/wsgi.py": "from django.core.wsgi import get_wsgi_application\n"
                                            "application = get_wsgi_application()\n"}))
    assert plan.manifests == ["requirements.txt", "requirements/production.txt", "requirements/base.txt",
                              "constraints.txt"]
    text, _ = dockerfile_gen.generate(plan, {})
    assert "COPY --chown=10001:10001 requirements/base.txt ./requirements/base.txt" in text
    assert text.index("requirements/base.txt ./") < text.index("pip install --no-cache-dir -r requirements.txt")
    assert not any("gunicorn is not among" in d for d in plan.decisions), "gunicorn is listed in an included file"
    assert plan.start == "gunicorn mysite.wsgi:application --bind 0.0.0.0:$PORT"


@pytest.mark.parametrize("line", ["-e .", "./libs/shared", "-e ./libs/shared[extra]", "--editable=.", "file:./x"])
def test_requirements_that_install_from_the_repository_install_after_the_source(tmp_path, line):
    plan = detect(write(tmp_path, {"requirements.txt": f"flask\n{line}\n", "Procfile": "web: gunicorn a:b\n"}))
    assert plan.manifests == [] and plan.install == [] and plan.after_copy[0] == "pip install --no-cache-dir -r requirements.txt"
    assert any("installs from the repository itself" in d for d in plan.decisions)


def test_a_build_command_that_installs_replaces_the_automatic_install(tmp_path):
    plan = detect(write(tmp_path, {"requirements.txt": "flask\n", "Procfile": "web: gunicorn app:app\n"}),
                  build_command="pip install -r requirements/production.txt")
    text, _ = dockerfile_gen.generate(plan, {})
    assert "-r requirements.txt" not in text and "RUN pip install -r requirements/production.txt" in text
    assert any("RenderLite's own install (pip install --no-cache-dir -r requirements.txt) is skipped" in d
               for d in plan.decisions)
    for n, extra in enumerate(["python manage.py collectstatic --noinput",
                               "pip install nltk && python -m nltk.downloader punkt"]):   # found in review
        other = detect(write(tmp_path / f"b{n}", {"requirements.txt": "flask\n", "Procfile": "web: gunicorn app:app\n"}),
                       build_command=extra)
        assert other.install == ["pip install --no-cache-dir -r requirements.txt"], "a build command that installs other things adds to it"


SRC_APP = "from flask import Flask\nfrom myapi.routes import bp\napp = Flask(__name__)\n"


def test_src_layout_apps_are_found_and_the_project_itself_installed(tmp_path):
    """`poetry new` / `uv init --package`: the app is in src/<pkg>; found in a trial: not detected,
    and the project was never installed (--no-root / --no-install-project only)."""
    poetry = detect(write(tmp_path / "poetry", {
        "pyproject.toml": '[tool.poetry]\nname = "myapi"\npackages = [{include = "myapi", from = "src"}]\n'
                          '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "*"\n',
        "poetry.lock": "", "src/myapi/__init__.py": "", "src/myapi/main.py": SRC_APP, "src/myapi/routes.py": "",
        "tests/test_x.py": "app = Flask(__name__)\n"}))
    assert poetry.start == "gunicorn myapi.main:app --bind 0.0.0.0:$PORT --pythonpath src"
    assert poetry.after_copy == ["poetry install --only-root --no-interaction"]
    text, _ = dockerfile_gen.generate(poetry, {})
    assert text.index("poetry install --no-root") < text.index("COPY --chown=10001:10001 . .") < text.index("--only-root")

    flat = detect(write(tmp_path / "flat", {
        "pyproject.toml": '[tool.poetry]\nname = "svc"\n[tool.poetry.dependencies]\npython = "^3.11"\n',
        "poetry.lock": "", "app.py": "from fastapi import FastAPI\napp = FastAPI()\n"}))
    assert flat.after_copy == [] and flat.start == "uvicorn app:app --host 0.0.0.0 --port $PORT", \
        "a Poetry project with no package of its own: installing its root would fail"

    uv = detect(write(tmp_path / "uv", {
        "pyproject.toml": '[project]\nname = "shopapi"\ndependencies = ["fastapi", "uvicorn"]\n',
        "uv.lock": "", "src/shopapi/__init__.py": "", "src/shopapi/app.py": "from fastapi import FastAPI\napp = FastAPI()\n"}))
    assert uv.start == "uvicorn shopapi.app:app --host 0.0.0.0 --port $PORT --app-dir src"
    assert uv.after_copy == ["uv sync --frozen --no-dev --inexact"], "--inexact: a server RenderLite added stays"


@pytest.mark.parametrize("main,start", [
    ("dist/index.js", "node dist/index.js"),
    ("./build/server.mjs", "node build/server.mjs"),
    ("../outside.js", None), ("/etc/passwd.js", None), ("dist/index.ts", None),
    ("index.js", None),   # found in review: `npm init` writes it into Vite sites, which have no server
])
def test_a_main_the_build_writes_is_the_start(tmp_path, main, start):
    """Found in a trial: a TypeScript server ("main": "dist/index.js", build: tsc) was served as a
    static site, and the log said there was no main."""
    files = {"package.json": json.dumps({"main": main, "scripts": {"build": "tsc"}}), "package-lock.json": "{}"}
    if start:
        plan = detect(write(tmp_path, files))
        assert plan.runtime == "node" and plan.start == start and plan.build == "npm run build"
        assert any("written by the build" in d for d in plan.decisions)
    else:
        plan = detect(write(tmp_path, {**files, "index.html": "<p>x"}))
        assert plan.runtime == "static"


def test_the_start_said_is_the_start_run(tmp_path):
    plan = detect(write(tmp_path, {"package.json": json.dumps({"scripts": {"start": "node s.js"}}), "bun.lock": ""}))
    assert plan.start == "bun run start" and any(d.startswith("start: `bun run start`") for d in plan.decisions)


def test_django_with_static_root_collects_static_files_at_build(tmp_path):
    files = {"requirements.txt": "Django==5.1.4\ngunicorn\nwhitenoise\n", "manage.py": "",
             "config/settings.py": "STATIC_ROOT = BASE_DIR / 'staticfiles'\n",
             "config/wsgi.py": "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"}
    plan = detect(write(tmp_path / "a", files))
    assert plan.after_copy[-1].startswith("python manage.py collectstatic --noinput || echo 'WARNING")
    text, _ = dockerfile_gen.generate(plan, {})
    assert text.index("COPY --chown=10001:10001 . .") < text.index("collectstatic")
    assert detect(write(tmp_path / "b", files), env={"DISABLE_COLLECTSTATIC": "1"}).after_copy == []
    no_root = detect(write(tmp_path / "c", {**files, "config/settings.py": "DEBUG = True\n"}))
    assert not any("collectstatic" in c for c in no_root.after_copy), "without STATIC_ROOT collectstatic only fails"


PIP_SDIST_FAILURE = """Collecting psycopg2==2.9.10 (from -r requirements.txt (line 3))
  Downloading psycopg2-2.9.10.tar.gz (385 kB)
  Preparing metadata (setup.py): started
  Preparing metadata (setup.py): finished with status 'error'
  error: subprocess-exited-with-error
  × python setup.py egg_info did not run successfully.
  │ exit code: 1
  ╰─> [23 lines of output]
      running egg_info
      creating /tmp/pip-pip-egg-info-x/psycopg2.egg-info
      writing /tmp/pip-pip-egg-info-x/psycopg2.egg-info/PKG-INFO
      Error: pg_config executable not found.
      pg_config is required to build psycopg2 from source.  Please add the directory
      containing pg_config to the $PATH or specify the full executable path with the option:
      If you prefer to avoid building psycopg2 from source, please install the PyPI
      'psycopg2-binary' package instead.
      [end of output]
  note: This error originates from a subprocess, and is likely not a problem with pip.
error: metadata-generation-failed
× Encountered error while generating package metadata.
╰─> See above for output.""".splitlines()


def test_a_tools_own_error_line_beats_the_wrappers_summary():
    """Found in a trial: the reason showed pip's "finished with status 'error'" and not the cause."""
    said = build.telling(PIP_SDIST_FAILURE)
    assert said[0].strip() == "Error: pg_config executable not found." and "pg_config is required" in said[1]


def test_a_generated_build_failing_after_a_version_warning_names_it_as_the_likely_cause():
    p = build.BuildPlan(context=Path("/x"), dockerfile="Dockerfile", tag="t:1", timeout=1, kind="generated")
    warning = ("WARNING: the app asks for Go 1.22.5 (from go.mod), but the base image renderlite-base/go:1.19 has Go "
               "1.19.8; a build step that needs 1.22.5 will fail: point RENDERLITE_BASE_IMAGE_GO at images named by version")
    msg = build.explain_failure(p, "step 5/14 (RUN go mod download)", "returned a non-zero code: 1",
                                ["go: errors parsing go.mod:", "/src/go.mod:3: invalid go version '1.22.5'"], notes=[warning])
    assert "the likely cause: the app asks for Go 1.22.5" in msg and "RENDERLITE_BASE_IMAGE_GO" in msg
    pulled = build.explain_failure(p, "step 1/9 (FROM python:3.11-slim)", "dial tcp: lookup registry-1.docker.io: no such host",
                                   alike=["renderlite-base/python:3.11"])
    assert pulled.endswith("this server has renderlite-base/python:3.11")
    long = build.explain_failure(p, "step 8/15 (RUN " + "x && " * 100 + "exit 1)", "returned a non-zero code: 1")
    assert len(long) < 400 and "…)" in long


def test_go_compiles_the_standard_library_in_the_dependencies_layer(tmp_path):
    plan = detect(write(tmp_path, {"go.mod": "module x\n\ngo 1.22.5\n", "main.go": "package main\n"}))
    text, _ = dockerfile_gen.generate(plan, {})
    assert "FROM golang:1.22 AS build" in text
    assert text.index("RUN go build -trimpath std") < text.index("COPY . .") < text.index("go build -trimpath -o /app/bin/app .")
    assert "build: `go build -trimpath -o /app/bin/app .` (package main at the root)" in plan.decisions


@pytest.mark.parametrize("requirement,native", [
    ("psycopg2==2.9.10", "libpq-dev"), ("psycopg2", "libpq-dev"), ("mysqlclient>=2", "default-libmysqlclient-dev"),
    ("psycopg2-binary==2.9.10", None), ("psycopg[binary]", None),
    ("psycopg2-binary  # not psycopg2 from source", None),
])
def test_packages_that_build_from_source_get_their_system_libraries(tmp_path, requirement, native):
    """Found in a trial: psycopg2 (the source package) failed: no pg_config, no compiler."""
    plan = detect(write(tmp_path, {"requirements.txt": f"flask\n{requirement}\n", "Procfile": "web: gunicorn a:b\n"}))
    text, _ = dockerfile_gen.generate(plan, {})
    if native:
        assert plan.setup[0].startswith("apt-get update && apt-get install -y --no-install-recommends")
        assert native in plan.setup[0] and text.index(plan.setup[0]) < text.index("USER 10001"), "as root, before the app user"
    else:
        assert "apt-get" not in text
