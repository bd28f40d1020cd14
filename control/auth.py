"""The admin token: created by `up` on first run, required by the API and the dashboard."""
from __future__ import annotations

import hmac
import os
import secrets

from core.settings import Settings


def ensure_token(settings: Settings) -> str:
    path = settings.token_file
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = "rl_" + secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def read_token(settings: Settings) -> str | None:
    try:
        return settings.token_file.read_text().strip() or None
    except OSError:
        return None


def check(settings: Settings, presented: str | None) -> bool:
    expected = read_token(settings)
    return bool(expected and presented and hmac.compare_digest(expected.encode(), presented.strip().encode()))
