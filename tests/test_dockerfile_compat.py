"""BuildKit-only Dockerfile syntax on the classic builder (found in a trial: `RUN --mount=type=cache`
from `docker init` and uv's examples failed with "the --mount option requires BuildKit")."""
from __future__ import annotations

import time

import pytest

from core.errors import BuildError
from jobs import build
from jobs.dockerfile_compat import classic

UV_EXAMPLE = """# syntax=docker/dockerfile:1
FROM python:3.12-slim AS base
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project
COPY --link . /app
RUN --mount=type=cache,target=/root/.cache/pip pip install \\
    # a comment inside the continuation
    gunicorn
CMD ["gunicorn", "app:app"]"""


def test_cache_mounts_are_dropped_and_bind_mounts_copied_in_first():
    text, said = classic(UV_EXAMPLE)
    lines = text.split("\n")
    i = lines.index("COPY uv.lock uv.lock")
    assert lines[i:i + 3] == ["COPY uv.lock uv.lock", "COPY pyproject.toml pyproject.toml",
                              "RUN uv sync --locked --no-install-project"]
    assert "COPY . /app" in lines and "RUN pip install     gunicorn" in lines, lines
    assert lines[2:4] == ["WORKDIR /app", "COPY uv.lock uv.lock"], "a cache mount leaves nothing in its place"
    assert lines[lines.index("RUN pip install     gunicorn") - 1] == "COPY . /app"
    assert "--mount" not in text and "--link" not in text
    assert lines[0] == "# syntax=docker/dockerfile:1" and lines[-1] == 'CMD ["gunicorn", "app:app"]'
    assert len(said) == 3 and "line 4: `RUN --mount` needs BuildKit" in said[0]


def test_a_dockerfile_without_buildkit_syntax_is_built_as_it_is():
    assert classic("FROM x\nRUN echo --mount=not-a-flag\nCOPY . .\n") == (None, [])
    # found in review: `<<` inside quotes, or bash's `<<<`, is no heredoc
    for line in ['RUN python -c "print(1 << 3)"', 'RUN bash -c "cat <<< hello"', "RUN echo 'a <<EOF b'", "RUN cat <<< hi"]:
        assert classic(f"FROM x\n{line}\n") == (None, []), line


def test_buildkit_platform_args_and_link_flags_are_dropped():
    """docker init's Go template: FROM --platform=$BUILDPLATFORM (empty on the classic builder)."""
    text, said = classic("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nCOPY\t--link=true\tx\t/y\n"
                         "FROM --platform=linux/amd64 debian\nRUN --mount=type=bind,source=a,target=/a make\n")
    assert text.rstrip("\n").split("\n") == ["FROM golang:1.22 AS build", "COPY x\t/y", "FROM --platform=linux/amd64 debian",
                                 "COPY a /a", "RUN make"], text
    assert "cache mounts dropped" not in said[-1] and "bind mounts copied in first (COPY a /a)" in said[-1]


@pytest.mark.parametrize("dockerfile,needle", [
    ("FROM x\nRUN --mount=type=secret,id=npmrc npm ci\n", "line 2 uses `RUN --mount=type=secret`"),
    ("FROM x\nRUN --mount=type=ssh git clone git@host:x\n", "`RUN --mount=type=ssh`"),
    ("FROM x\nRUN --network=none make\n", "line 2 uses `RUN --network`"),
    ("FROM x\nRUN <<EOF\napt-get update\nEOF\n", "line 2 uses a heredoc"),
    ("FROM x\nRUN --mount=type=cache,target=/c \\\n    cat <<'EOF' > /f\nx\nEOF\n", "line 2 uses a heredoc"),
    ("FROM x\nCOPY <<EOF /etc/conf\nx=1\nEOF\n", "line 2 uses a heredoc (`COPY <<...`)"),
])
def test_what_the_classic_builder_cannot_do_is_refused_naming_the_line(dockerfile, needle):
    with pytest.raises(BuildError) as e:
        classic(dockerfile)
    assert needle in str(e.value) and "classic builder" in str(e.value)


@pytest.mark.e2e
def test_a_dockerfile_with_mounts_builds_on_this_engine(tmp_path, docker_client, base_images):
    (tmp_path / "requirements.txt").write_text("flask==3.0.3\n")
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    (tmp_path / "secret.txt").write_text("never in the image\n")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_images['python']}\nWORKDIR /app\nENV BUST={time.time_ns()}\n"
        "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
        "    --mount=type=bind,source=requirements.txt,target=/tmp/req.txt \\\n"
        "    echo \"saw $(cat /tmp/req.txt)\"\n"
        "COPY --link . .\nRUN ls -a /app\n")
    plan = build.plan(build.BuildRequest(checkout=tmp_path, tag="rlunit/mounts:1", timeout=120))
    assert plan.generated and plan.dockerfile == build.GENERATED
    build.prepare(plan)

    class Log:
        lines: list[str] = []

        def line(self, text):
            self.lines.append(text)

    log = Log()
    build.run(docker_client, plan, log)
    assert "saw flask==3.0.3" in log.lines
    listed = log.lines[log.lines.index(next(ln for ln in log.lines if ln.endswith("RUN ls -a /app"))):]
    assert "requirements.txt" in listed and "secret.txt" not in listed and build.GENERATED not in listed, listed
    docker_client.images.remove("rlunit/mounts:1")
