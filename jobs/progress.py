"""Deployment progress in Redis: the worker appends log lines, the UI and CLI poll them."""
from __future__ import annotations

import time

import redis

LOG_TTL = 7 * 24 * 3600


class DeployLog:
    def __init__(self, r: redis.Redis, prefix: str, deployment_id: int):
        self.r = r
        self.key = f"{prefix}log:{deployment_id}"
        self.buffer: list[str] = []

    def line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        for part in str(text).rstrip("\n").split("\n"):
            entry = f"{stamp} {part.rstrip()}"
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
