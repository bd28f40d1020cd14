"""Text that came from a build or an app, made safe to show: colour codes and other terminal
control sequences removed (they show as garbage in the dashboard, and could drive a terminal)."""
from __future__ import annotations

import re

ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Drop ANSI escape sequences and control characters; keep newlines and tabs."""
    return CONTROL.sub("", ANSI.sub("", text))


class Lines:
    """Whole lines out of streamed text whose chunks end anywhere (Docker's build stream, a
    container's log): only what arrives is split, and a line with no end is cut at ``limit``."""

    def __init__(self, limit: int = 64 * 1024):
        self.pending, self.limit = "", limit

    def feed(self, text: str) -> list[str]:
        *done, rest = text.split("\n")
        if done:
            done[0], self.pending = self.pending + done[0], rest
        else:
            self.pending += rest
        if len(self.pending) > self.limit:   # output with no line ends (a binary cat)
            done.append(self.pending)
            self.pending = ""
        return done

    def flush(self) -> list[str]:
        """The unfinished line, as a line of its own (the stream ended, or another voice speaks)."""
        out, self.pending = ([self.pending] if self.pending else []), ""
        return out
