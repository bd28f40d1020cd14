"""BuildKit-only Dockerfile syntax, made buildable by the classic builder (or refused clearly).

This server's Docker engine builds with the classic builder (BuildKit needs the buildx component,
which cannot be installed everywhere: not on these machines). Real Dockerfiles use BuildKit's
`RUN --mount=...` a lot (`docker init`, uv's and Poetry's own examples). Pure: a Dockerfile text in,
the text to build out (or None when nothing needs changing), plus one build-log line per change.

- `--mount=type=cache` and `type=tmpfs`: dropped. They only speed builds up; the result is the same.
- `--mount=type=bind,source=S,target=T[,from=X]`: a `COPY [--from=X] S T` before the RUN step. The
  files stay in that layer (a bind mount leaves nothing behind), which changes no command's result.
- `COPY --link`: the flag dropped (a layer-reuse hint).
- `--mount=type=secret|ssh`, other `RUN` flags, heredocs: refused before the build, naming the
  line and what to do (the classic builder would fail with a cryptic message, or build wrongly).
"""
from __future__ import annotations

import re
import shlex

from core.errors import BuildError

INSTRUCTION_RE = re.compile(r"^\s*(\w+)(\s|$)")
HEREDOC_WORD_RE = re.compile(r"^<<-?([\"']?)[A-Za-z_][A-Za-z0-9_]*\1$")
LINK_RE = re.compile(r"(?<=\s)--link(=\S*)?(?=\s)")
PLATFORM_RE = re.compile(r"(?<=\s)--platform=\$\{?(BUILDPLATFORM|TARGETPLATFORM)\}?(?=\s)")
FLAG_RE = re.compile(r"^--([\w-]+)(?:=(\S*))?\s*")
NEEDS = ("this server builds with Docker's classic builder (BuildKit's buildx is not installed)")


def _instructions(text: str):
    """(line number, physical lines) of each logical instruction; comments and blanks as their own."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        start, block = i, [lines[i]]
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            last = block[-1]   # comment and empty lines inside a continuation do not end it (Docker skips them)
            while last.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                block.append(lines[i])
                if lines[i].strip() and not lines[i].strip().startswith("#"):
                    last = lines[i]
        i += 1
        yield start + 1, block


def _joined(block: list[str]) -> str:
    """One instruction on one line, as Docker reads it: backslash-newline removed, comment lines inside skipped."""
    parts = []
    for n, line in enumerate(block):
        if n and (line.strip().startswith("#") or not line.strip()):
            continue
        parts.append(line.rstrip()[:-1] if line.rstrip().endswith("\\") else line)
    return "".join(parts).strip()


def _heredoc(command: str) -> bool:
    """A shell word opening a heredoc (`<<EOF`, `<< 'EOF'`), not `<<` inside quotes or `<<<`."""
    lex = shlex.shlex(command, posix=False)
    lex.whitespace_split, lex.commenters = True, ""
    try:
        words = list(lex)
    except ValueError:
        return False
    return any(HEREDOC_WORD_RE.match(w) or (w in ("<<", "<<-") and i + 1 < len(words))
               for i, w in enumerate(words))


def _mount(spec: str, line: int) -> str | None:
    """The COPY line standing in for a bind mount; None for a mount that is dropped (cache, tmpfs)."""
    fields = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        fields[key.strip().lower()] = value.strip()
    kind = fields.get("type", "bind")
    if kind in ("cache", "tmpfs"):
        return None
    if kind == "bind":
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        source = fields.get("source") or fields.get("src") or "."
        if not target:
            raise BuildError(f"Dockerfile line {line}: a bind mount without a target ({spec}); fix the mount")
        frm = fields.get("from")
        return f"COPY {f'--from={frm} ' if frm else ''}{source} {target}"
    raise BuildError(f"Dockerfile line {line} uses `RUN --mount=type={kind}`, which needs BuildKit, and {NEEDS}; "
                     "pass the value another way (an environment variable of the service, or a build step that "
                     "does not need it), or build the image elsewhere")


def classic(text: str) -> tuple[str | None, list[str]]:
    """(the Dockerfile to build, or None if ``text`` builds as it is; what was changed, for the log)."""
    out: list[str] = []
    said: list[str] = []
    changed = False
    for line, block in _instructions(text):
        m = INSTRUCTION_RE.match(block[0])
        word = m.group(1).upper() if m and not block[0].strip().startswith("#") else ""
        if word == "FROM" and PLATFORM_RE.search(" " + _joined(block) + " "):   # docker init's Go template
            out.append(PLATFORM_RE.sub("", " " + _joined(block) + " ").strip().replace("  ", " "))
            said.append(f"line {line}: `FROM --platform=$BUILDPLATFORM` needs BuildKit: built for this server's platform")
            changed = True
            continue
        if word not in ("RUN", "COPY", "ADD"):
            out.extend(block)
            continue
        joined = _joined(block)
        rest = joined[len(word):].lstrip()
        if word in ("COPY", "ADD"):
            if _heredoc(rest):
                raise BuildError(f"Dockerfile line {line} uses a heredoc (`{word} <<...`), which needs BuildKit, and "
                                 f"{NEEDS}; write the file into the repository and COPY it")
            if LINK_RE.search(f" {rest} "):
                out.append(f"{word} " + LINK_RE.sub("", f" {rest} ").strip())
                said.append(f"line {line}: `{word} --link` is a BuildKit hint; built without it")
                changed = True
            else:
                out.extend(block)
            continue
        copies, flags_seen, dropped = [], False, 0
        while True:
            f = FLAG_RE.match(rest)
            if not f:
                break
            name, value = f.group(1), f.group(2) or ""
            if name != "mount":
                raise BuildError(f"Dockerfile line {line} uses `RUN --{name}`, which needs BuildKit, and {NEEDS}; "
                                 "remove that flag")
            copy = _mount(value, line)
            if copy:
                copies.append(copy)
            else:
                dropped += 1
            flags_seen = True
            rest = rest[f.end():]
        if _heredoc(rest):
            raise BuildError(f"Dockerfile line {line} uses a heredoc (`<<`), which needs BuildKit, and {NEEDS}; "
                             "write the script into the repository and RUN it, or join its lines with &&")
        if not flags_seen:
            out.extend(block)
            continue
        changed = True
        done = ([f"bind mounts copied in first ({'; '.join(copies)})"] if copies else []) + \
               (["cache mounts dropped (same result, no cache)"] if dropped else [])
        said.append(f"line {line}: `RUN --mount` needs BuildKit ({NEEDS}): " + ", ".join(done))
        out.extend(copies)
        out.append(f"RUN {rest}")
    return ("\n".join(out) if changed else None), said
