"""Deployment progress in Redis: the worker appends log lines, the UI and CLI poll them."""
from __future__ import annotations

import time

import redis

from core.text import clean

LOG_TTL = 7 * 24 * 3600


MAX_LINES = 20_000      # per deployment: a build printing without end must not fill Redis and the database
MAX_LINE = 4_000        # characters kept of one line


class DeployLog:
    def __init__(self, r: redis.Redis, prefix: str, deployment_id: int, max_lines: int = MAX_LINES):
        self.r = r
        self.key = f"{prefix}log:{deployment_id}"
        self.buffer: list[str] = []
        self.max_lines = max_lines
        self.dropped = 0

    def line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        for part in clean(str(text)).rstrip("\n").split("\n"):
            part = part.rstrip()
            if len(self.buffer) >= self.max_lines and not part.startswith("==> "):   # RenderLite's own lines stay
                if not self.dropped:
                    self._push(f"{stamp} ... output truncated: over {self.max_lines} lines; later output is dropped "
                               "(RenderLite's own messages are kept)")
                self.dropped += 1
                continue
            self._push(f"{stamp} {part[:MAX_LINE]}" + (" [line truncated]" if len(part) > MAX_LINE else ""))

    def _push(self, entry: str) -> None:
        self.buffer.append(entry)
        try:
            self.r.rpush(self.key, entry)
            self.r.expire(self.key, LOG_TTL)
        except redis.RedisError:
            pass  # the full log is also saved to the database at the end

    def text(self) -> str:
        return "\n".join(self.buffer)


def read_lines(r: redis.Redis, prefix: str, deployment_id: int, start: int = 0) -> list[str]:
    try:
        return r.lrange(f"{prefix}log:{deployment_id}", start, -1)
    except redis.RedisError:
        return []
