"""Validation of what users type, applied when a project or service is saved.

Each check raises ``ValidationError`` with the cause and what to type instead.
"""
from __future__ import annotations

import math
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from core.errors import ValidationError

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
BRANCH_BAD = re.compile(r"(\.\.|[\x00-\x20~^:?*\[\\]|@\{|//|/\.|\.lock$|^/|/$|^\.|\.$)")
ALLOWED_SCHEMES = ("https", "http", "git")


def name(value: str, what: str = "name") -> str:
    value = (value or "").strip().lower()
    if not NAME_RE.match(value):
        raise ValidationError(
            f"{what} {value!r} is not valid: use 1-40 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'my-app')")
    if what == "subdomain" and re.fullmatch(r"d\d+", value):   # the edge's DNS names deployments d<id>
        raise ValidationError(f"subdomain {value!r} is reserved (d followed by digits names a deployment inside "
                              "the edge); pick another, e.g. 'app-" + value + "'")
    return value


def repo_url(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError("repository URL is empty; paste an https://, http:// or git:// URL")
    if value.startswith("-"):
        raise ValidationError(f"repository URL {value!r} starts with '-'; paste an https://, http:// or git:// URL")
    if "::" in value.split("/")[0] or value.lower().startswith("ext::"):
        raise ValidationError(f"repository URL {value!r} uses a git transport helper; only https://, http:// and git:// are accepted")
    if any(ord(c) < 0x21 for c in value):
        raise ValidationError("repository URL contains spaces or control characters; paste the URL alone")
    parts = urlsplit(value)
    if not parts.scheme and re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+/", value, re.I):
        raise ValidationError(f"repository URL {value!r} has no scheme; did you mean https://{value} ?")
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        shown = parts.scheme + "://" if parts.scheme else "a local path"
        raise ValidationError(
            f"repository URL {value!r} uses {shown}; only https://, http:// and git:// are accepted "
            "(local paths and file:// would let a deploy read the server's own files)")
    if not parts.hostname:
        raise ValidationError(f"repository URL {value!r} has no host; it should look like https://github.com/owner/repo")
    if parts.username is not None or parts.password is not None:
        shown = value.replace(parts.netloc, parts.hostname + (f":{parts.port}" if parts.port else ""))
        raise ValidationError(f"repository URL for {shown!r} carries credentials (user:token@); they would be stored "
                              "in plain text and shown in build logs. RenderLite deploys public repositories for now")
    return value


def branch(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return "main"
    if value.startswith("-") or BRANCH_BAD.search(value) or len(value) > 200:
        raise ValidationError(f"branch {value!r} is not a valid git branch name")
    return value


def relative_path(value: str, what: str) -> str:
    """A path inside the repository: no absolute paths, no '..' escaping it."""
    value = (value or "").strip().strip("/") if value else ""
    if value in ("", "."):
        return ""
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or "\\" in value or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise ValidationError(f"{what} {value!r} must be a path inside the repository, like 'apps/web'")
    return str(p)


def port(value: int | str | None) -> int | None:
    """A port, or None (unset: RenderLite uses the image's EXPOSE or discovers the app's port)."""
    if value in (None, "", "auto"):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"port {value!r} is not a number; use the port your app listens on, e.g. 3000") from None
    if not 1 <= n <= 65535:
        raise ValidationError(f"port {n} is out of range; use 1-65535")
    return n


BUILDERS = ("auto", "dockerfile", "nixpacks")


def choice(value, allowed: tuple[str, ...], what: str) -> str:
    value = str(value or "").strip().lower()
    if value not in allowed:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


def command(value, what: str) -> str | None:
    """A build or start command (run by /bin/sh in the image); empty means "detect it"."""
    value = str(value or "").strip()
    if not value:
        return None
    if "\x00" in value or len(value) > 2000:
        raise ValidationError(f"{what} is too long or contains a NUL byte; keep it to one shell command line")
    if "\n" in value or "\r" in value or value.endswith("\\"):
        raise ValidationError(f"{what} has a line break (or ends with a backslash); join the commands with && on "
                              "one line")
    return value


def health_path(value) -> str:
    value = str(value or "").strip()
    if value and not value.startswith("/"):
        raise ValidationError(f"health check path {value!r} must start with '/', e.g. /healthz")
    if any(ord(c) < 0x21 for c in value):
        raise ValidationError("health check path must not contain spaces or control characters")
    return value


def positive(kind, what: str, maximum: float | None = None, minimum: float | None = None):
    """A converter: '' -> None (use the default), else a finite number > 0 (and within the bounds)."""
    def convert(value):
        if value in (None, ""):
            return None
        try:
            n = kind(value)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(f"{what} {value!r} is not a {'whole ' if kind is int else ''}number") from None
        if not math.isfinite(n):   # nan passes every comparison below: a deadline of nan never comes
            raise ValidationError(f"{what} {value!r} is not a number; give a value such as 1 or 0.5")
        if n <= 0 or (maximum is not None and n > maximum):
            raise ValidationError(f"{what} must be greater than 0" + (f" and at most {maximum:g}" if maximum else ""))
        if minimum is not None and n < minimum:
            raise ValidationError(f"{what} must be at least {minimum:g}")
        return n
    return convert


def flag(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
