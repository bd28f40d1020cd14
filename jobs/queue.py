"""Dramatiq over Redis. The broker is built on demand, never at import time."""
from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from core.settings import Settings

QUEUE = "deploys"
DEPLOY_ACTOR = "deploy"


def make_broker(settings: Settings) -> RedisBroker:
    broker = RedisBroker(
        url=settings.redis_url,
        namespace=f"renderlite-{settings.instance}",
        middleware=[AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries(max_retries=0)],
    )
    dramatiq.set_broker(broker)
    return broker


def enqueue_deploy(broker: RedisBroker, deployment_id: int, delay_ms: int | None = None) -> None:
    msg = dramatiq.Message(queue_name=QUEUE, actor_name=DEPLOY_ACTOR, args=(deployment_id,),
                           kwargs={}, options={})
    broker.declare_queue(QUEUE)
    broker.enqueue(msg, delay=delay_ms)
