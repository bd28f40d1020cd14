"""Text that came from a build or an app, made safe to show: colour codes and other terminal
control sequences removed (they show as garbage in the dashboard, and could drive a terminal)."""
from __future__ import annotations

import re

ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Drop ANSI escape sequences and control characters; keep newlines and tabs."""
    return CONTROL.sub("", ANSI.sub("", text))
