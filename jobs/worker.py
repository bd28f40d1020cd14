"""The worker process: `python -m jobs.worker` runs deployments from the Dramatiq queue.

At start it recovers what a previous worker left (deployments stuck BUILDING are marked FAILED and
what they started is removed, queued ones are sent again), then consumes the queue. Deploys of one service are serialized by
a per-service lock; different services build in parallel (one per worker thread).
"""
from __future__ import annotations

import logging
import signal
import threading

import dramatiq

from control.deployments import enqueue, requeue_waiting
from control.janitor import sweep
from core.wiring import Platform, build
from jobs import pipeline
from jobs.queue import DEPLOY_ACTOR, QUEUE

log = logging.getLogger("renderlite.worker")
POLL_MS = 50    # how often an idle worker looks at the queue: a deploy starts within this


def register(platform: Platform):
    """The deploy actor, bound to this process's platform."""
    def deploy(deployment_id: int) -> None:
        if pipeline.deploy_locked(platform, deployment_id) is None:   # another deploy of this service runs
            enqueue(platform, deployment_id, delay_ms=1000)             # look again in a second

    return dramatiq.actor(deploy, actor_name=DEPLOY_ACTOR, queue_name=QUEUE, broker=platform.broker,
                          max_retries=0, time_limit=24 * 3600 * 1000)


def main(threads: int = 2) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    platform = build()
    register(platform)
    report = sweep(platform)   # what a dead worker left: its deployments, containers and folders
    for dep_id in report.interrupted:
        log.warning("deployment %s was interrupted; marked FAILED", dep_id)
    for dep_id in requeue_waiting(platform):
        log.info("deployment %s was waiting in the queue; message sent again", dep_id)
    worker = dramatiq.Worker(platform.broker, queues={QUEUE}, worker_timeout=POLL_MS, worker_threads=threads)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info("worker ready (%d threads)", threads)
    stop.wait()
    log.info("stopping: running deployments are marked FAILED by the next start")
    worker.stop(timeout=5000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
