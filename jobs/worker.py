"""Dramatiq entry point: `dramatiq jobs.worker` runs deployments.

Importing this module is the wiring step of the worker process (it builds the broker).
"""
from __future__ import annotations

import logging

import dramatiq
import redis

from control.deployments import recover_interrupted, requeue_waiting
from core.wiring import build
from jobs import pipeline
from jobs.queue import DEPLOY_ACTOR, QUEUE, enqueue_deploy

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
platform = build()
broker = platform.broker


def deploy(deployment_id: int) -> None:
    """Serialize per service: if another deploy of the same service holds the lock, retry later."""
    from models.db import session
    from models.tables import Deployment

    with session(platform.engine) as db:
        dep = db.get(Deployment, deployment_id)
        if dep is None:
            return
        service_id = dep.service_id
    lock = platform.redis.lock(f"{platform.settings.redis_prefix}lock:service:{service_id}",
                               timeout=platform.settings.build_timeout + platform.settings.clone_timeout + 600,
                               blocking=False)
    if not lock.acquire():
        enqueue_deploy(broker, deployment_id, delay_ms=1000)
        return
    try:
        pipeline.deploy(platform, deployment_id)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass


dramatiq.actor(deploy, actor_name=DEPLOY_ACTOR, queue_name=QUEUE, broker=broker,
               max_retries=0, time_limit=24 * 3600 * 1000)

for dep_id in recover_interrupted(platform):
    logging.getLogger("renderlite.worker").warning("deployment %s was interrupted; marked FAILED", dep_id)

for dep_id in requeue_waiting(platform):
    logging.getLogger("renderlite.worker").info("deployment %s was waiting in the queue; message sent again", dep_id)
