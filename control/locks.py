"""One lock per service, in Redis: deploys and lifecycle actions of a service never interleave.

The lock lives only while its holder does: it expires after ``TTL_S`` unless a heartbeat
thread renews it, so a worker killed in the middle of a deploy (SIGKILL, a lost machine)
blocks that service for seconds, not for the length of a build time limit.
"""
from __future__ import annotations

import contextlib
import threading

import redis

TTL_S = 15
RENEW_S = 5


def key(prefix: str, service_id: int) -> str:
    return f"{prefix}lock:service:{service_id}"


def held(r: redis.Redis, prefix: str, service_id: int) -> bool:
    """Is some live process holding this service's lock? (a dead holder's lock has expired)"""
    return bool(r.exists(key(prefix, service_id)))


class ServiceLock:
    def __init__(self, r: redis.Redis, prefix: str, service_id: int, ttl: float = TTL_S):
        self._lock = r.lock(key(prefix, service_id), timeout=ttl, thread_local=False)
        self._every = min(RENEW_S, ttl / 3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, wait: float | None = None) -> bool:
        """Take the lock (waiting up to ``wait`` seconds; None: do not wait) and start renewing it."""
        got = self._lock.acquire(blocking=wait is not None, blocking_timeout=wait)
        if got:
            self._thread = threading.Thread(target=self._renew, name="service-lock", daemon=True)
            self._thread.start()
        return bool(got)

    def _renew(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._lock.reacquire()
            except redis.exceptions.LockNotOwnedError:   # Redis restarted and lost the key: take it again
                with contextlib.suppress(redis.RedisError):
                    self._lock.acquire(blocking=False)
            except redis.RedisError:
                pass

    def release(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.exceptions.LockError, redis.RedisError):
            self._lock.release()
