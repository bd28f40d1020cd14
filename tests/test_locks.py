"""The per-service lock against the real Redis: renewed while held, gone soon after its holder dies."""
from __future__ import annotations

import time

import pytest
import redis

from control.locks import ServiceLock


@pytest.fixture
def r(test_env):
    client = redis.Redis.from_url(test_env["REDIS_URL"])
    yield client
    for key in client.keys("locktest:*"):
        client.delete(key)


def test_held_lock_is_renewed_past_its_ttl(r):
    a = ServiceLock(r, "locktest:", 1, ttl=1.5)
    assert a.acquire()
    time.sleep(3)   # twice the TTL: the heartbeat kept it
    assert not ServiceLock(r, "locktest:", 1, ttl=1.5).acquire()
    a.release()
    assert ServiceLock(r, "locktest:", 1, ttl=1.5).acquire()


def test_lock_of_a_dead_holder_expires(r):
    dead = ServiceLock(r, "locktest:", 2, ttl=1.5)
    assert dead.acquire()
    dead._stop.set()   # the holder dies: no release, no more renewals (as after SIGKILL)
    waiter = ServiceLock(r, "locktest:", 2, ttl=1.5)
    t = time.monotonic()
    assert waiter.acquire(wait=10)
    assert time.monotonic() - t < 4
    waiter.release()
