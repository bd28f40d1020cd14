"""Deployment records: request (QUEUED), and the worker's transitions
QUEUED -> BUILDING -> SUCCESS | FAILED. A finished deployment never changes state again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, select

from core.errors import RenderLiteError
from jobs.queue import enqueue_deploy
from models.db import session
from models.tables import REDEPLOY, Deployment, DeploymentStatus as DS, Service, ServiceStatus, as_utc, utcnow
from control.projects import get_service


class QueueUnavailable(RenderLiteError):
    pass


PENDING_TTL_S = 30   # a QUEUED deployment whose message was (re)sent longer ago than this has lost it


def _pending_key(platform, dep_id: int) -> str:
    return f"{platform.settings.redis_prefix}pending:{dep_id}"


def enqueue(platform, dep_id: int, delay_ms: int | None = None) -> None:
    """Send the deployment's message, and note when: the janitor resends messages Redis lost."""
    enqueue_deploy(platform.broker, dep_id, delay_ms=delay_ms)
    platform.redis.set(_pending_key(platform, dep_id), "1", ex=PENDING_TTL_S + (delay_ms or 0) // 1000)


def requeue_lost(platform, older_than_s: float = PENDING_TTL_S) -> list[int]:
    """Resend the messages of QUEUED deployments that Redis no longer holds (it restarted, or was
    flushed). A duplicate is harmless: the worker only runs a deployment that is still QUEUED."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with session(platform.engine) as db:
        ids = [d.id for d in db.exec(select(Deployment).where(Deployment.status == DS.QUEUED.value)).all()
               if as_utc(d.created_at) < cutoff]
    lost = [i for i in ids if not platform.redis.exists(_pending_key(platform, i))]
    for dep_id in lost:
        enqueue(platform, dep_id)
    return lost


def origins(db: Session, service_id: int) -> dict[int, int]:
    """Deployment id -> the deployment whose build made its image, for all of a service's deployments."""
    return origin_map(db.exec(select(Deployment).where(Deployment.service_id == service_id)).all())


def origin_map(deployments) -> dict[int, int]:
    """Pure: deployment id -> the deployment whose build made its image. A rollback or redeploy
    reuses its source's image; rows from before the column existed follow the source chain."""
    rows = {d.id: d for d in deployments}
    out: dict[int, int] = {}
    for dep_id in rows:
        d, hops = rows[dep_id], 0
        while d.image_origin_id is None and d.source_deployment_id in rows and hops < 100:
            d, hops = rows[d.source_deployment_id], hops + 1
        out[dep_id] = d.image_origin_id or d.id
    return out


def kept_versions(successes: list[int], origin: dict[int, int], keep: int) -> set[int]:
    """Pure: the deployments whose images to keep for rollback: those of the last ``keep`` distinct
    images among the successful ones (newest first). Redeploys share their source's image, so
    they do not push a real earlier version out (found in a trial)."""
    versions: list[int] = []
    for dep_id in successes:
        o = origin.get(dep_id, dep_id)
        if o not in versions:
            versions.append(o)
    wanted = set(versions[:keep])
    return {d for d in successes if origin.get(d, d) in wanted} | wanted


def rollback_target(db: Session, svc: Service, deployment_id: int | None) -> Deployment:
    """The earlier deployment to roll back to: the one named, or the last success before the live one
    with another image (redeploys of the live image are not an earlier version)."""
    from core.errors import NotFound, ValidationError

    q = select(Deployment).where(Deployment.service_id == svc.id, Deployment.status == DS.SUCCESS.value)
    if deployment_id is not None:
        target = db.exec(q.where(Deployment.id == int(deployment_id))).first()
        if target is None:
            raise NotFound(f"service '{svc.name}' has no successful deployment #{deployment_id} to roll back to; "
                           f"pick one from `./renderlite deployments {svc.name}` or the dashboard")
    else:
        origin = origins(db, svc.id)
        live = origin.get(svc.live_deployment_id or 0)
        older = db.exec(q.where(Deployment.id < (svc.live_deployment_id or 0)).order_by(Deployment.id.desc())).all()
        target = next((d for d in older if origin.get(d.id) != live), None)
        if target is None:
            raise NotFound(f"service '{svc.name}' has no earlier successful deployment with another image to roll "
                           "back to")
    if target.id == svc.live_deployment_id:
        raise ValidationError(f"deployment #{target.id} is already live")
    return target


def request_deploy(platform, service_ref: str | int, rollback_to: int | None = None,
                   rollback: bool = False, rerun: bool = False) -> Deployment:
    """Queue a deployment: a fresh one from the branch, (``rollback``) a redeploy of an earlier
    deployment's image, the previous successful one unless ``rollback_to`` names it, or (``rerun``)
    the live image again with today's settings and environment: a restart without downtime."""
    from core.errors import NotFound

    with session(platform.engine) as db:
        svc = get_service(db, service_ref)
        if rerun:
            if not svc.live_deployment_id:
                raise NotFound(f"service '{svc.name}' has no live deployment to redeploy; deploy it first")
            source = svc.live_deployment_id   # the worker takes what is live when it runs
        else:
            source = rollback_target(db, svc, rollback_to).id if rollback or rollback_to is not None else None
        dep = Deployment(service_id=svc.id, source_deployment_id=source, kind=REDEPLOY if rerun else None)
        db.add(dep)
        db.commit()
        db.refresh(dep)
    forget_progress(platform, [dep.id])
    try:
        enqueue(platform, dep.id)
    except Exception as e:  # Redis down: say so, and leave no deployment QUEUED forever
        reason = f"could not queue the deployment: Redis is unreachable ({type(e).__name__}); start Redis and deploy again"
        with session(platform.engine) as db:
            fail(db, dep.id, "queue", reason)
        raise QueueUnavailable(reason) from None
    return dep


def requeue_waiting(platform) -> list[int]:
    """Send again the messages of QUEUED deployments (Redis may have lost them in a restart).
    A duplicate message is harmless: the worker only runs a deployment that is still QUEUED."""
    with session(platform.engine) as db:
        ids = [d.id for d in db.exec(select(Deployment).where(Deployment.status == DS.QUEUED.value)).all()]
    for dep_id in ids:
        enqueue(platform, dep_id)
    return ids


def _transition(db: Session, dep_id: int, frm: list[str], **values) -> bool:
    """Move a deployment only if it is still in one of ``frm`` (compare-and-set)."""
    res = db.exec(update(Deployment).where(Deployment.id == dep_id, Deployment.status.in_(frm)).values(**values))
    db.commit()
    return res.rowcount == 1


def start_building(db: Session, dep_id: int) -> bool:
    return _transition(db, dep_id, [DS.QUEUED.value], status=DS.BUILDING.value, started_at=utcnow())


def succeed(db: Session, dep_id: int, **values) -> bool:
    return _transition(db, dep_id, [DS.BUILDING.value], status=DS.SUCCESS.value, finished_at=utcnow(), **values)


def go_live(db: Session, dep_id: int, service_id: int, **values) -> bool:
    """The switch, in one transaction: the deployment SUCCESS and its service pointing at it. After
    this nothing may fail the deployment (the edge follows the database, not the other way round)."""
    res = db.exec(update(Deployment).where(Deployment.id == dep_id, Deployment.status == DS.BUILDING.value)
                  .values(status=DS.SUCCESS.value, finished_at=utcnow(), **values))
    if res.rowcount != 1:
        db.rollback()
        return False
    db.exec(update(Service).where(Service.id == service_id).values(
        status=ServiceStatus.RUNNING.value, live_deployment_id=dep_id, status_detail=None))
    db.commit()
    return True


def save_log(db: Session, dep_id: int, text: str) -> None:
    """The deployment's log as it ends (the live copy in Redis expires)."""
    db.exec(update(Deployment).where(Deployment.id == dep_id).values(log=text))
    db.commit()


def fail(db: Session, dep_id: int, stage: str, reason: str, only_from: tuple[str, ...] = (DS.QUEUED.value, DS.BUILDING.value),
         **values) -> bool:
    return _transition(db, dep_id, list(only_from), status=DS.FAILED.value,
                       failure_stage=stage, failure_reason=reason, finished_at=utcnow(), **values)


def newer_queued(db: Session, dep: Deployment) -> Deployment | None:
    """A newer deployment of the same service, whatever its state: the member's latest intent. An
    older one still waiting must not run after it (and go live over it). A redeploy is no such
    intent: it takes whatever is live when it runs, so a deploy waiting before it still runs."""
    return db.exec(select(Deployment).where(Deployment.service_id == dep.service_id, Deployment.id > dep.id,
                                            or_(Deployment.kind.is_(None), Deployment.kind != REDEPLOY))
                   .order_by(Deployment.id.desc())).first()


def older_deploy_waiting(db: Session, dep: Deployment) -> Deployment | None:
    """For a redeploy: a deploy (or rollback) of the same service queued before it and not yet
    run. The redeploy waits for it, so it takes live what the member asked for first (two messages
    fetched together could otherwise run in either order)."""
    if dep.kind != REDEPLOY:
        return None
    return db.exec(select(Deployment).where(Deployment.service_id == dep.service_id, Deployment.id < dep.id,
                                            Deployment.status == DS.QUEUED.value,
                                            or_(Deployment.kind.is_(None), Deployment.kind != REDEPLOY))
                   .order_by(Deployment.id)).first()


def forget_progress(platform, dep_ids) -> None:
    """Drop the Redis state kept by deployment number (live log, cancel request). Numbers can come
    back (SQLite reuses the highest id after a delete; a wiped database starts again at 1): a new
    deployment must never show an old one's log or inherit its cancel request."""
    keys = [k for i in dep_ids for k in (_cancel_key(platform, i), f"{platform.settings.redis_prefix}log:{i}",
                                          _pending_key(platform, i))]
    if keys:
        try:
            platform.redis.delete(*keys)
        except Exception:  # noqa: BLE001 - Redis down: the claim clears them again
            pass


def set_service_status(db: Session, service_id: int, status: ServiceStatus, **values) -> None:
    db.exec(update(Service).where(Service.id == service_id).values(status=status.value, **values))
    db.commit()


def set_service_runtime(db: Session, service_id: int, runtime: str) -> None:
    db.exec(update(Service).where(Service.id == service_id).values(runtime=runtime))
    db.commit()


def recover_interrupted(platform, reason: str = "the worker running this deployment stopped (crash or restart) "
                                                "before it finished; deploy again") -> list[int]:
    """Mark FAILED the deployments left BUILDING by a worker that died. A live worker holds its
    service's lock (renewed every few seconds), so BUILDING without the lock means nobody is
    working on it; a deployment of a worker that is alive, on this machine or another, is left alone."""
    from control.locks import held

    prefix = platform.settings.redis_prefix
    with session(platform.engine) as db:
        stuck = db.exec(select(Deployment).where(Deployment.status == DS.BUILDING.value)).all()
        ids = []
        for d in stuck:
            if held(platform.redis, prefix, d.service_id):
                continue
            if fail(db, d.id, "worker", reason):
                ids.append(d.id)
                svc = db.get(Service, d.service_id)
                if svc and svc.status == ServiceStatus.BUILDING.value:
                    set_service_status(db, svc.id, ServiceStatus.RUNNING if svc.live_deployment_id else ServiceStatus.FAILED)
        return ids


def _cancel_key(platform, dep_id: int) -> str:
    return f"{platform.settings.redis_prefix}cancel:{dep_id}"


def cancel_requested(platform, dep_id: int) -> bool:
    try:
        return bool(platform.redis.exists(_cancel_key(platform, dep_id)))
    except Exception:
        return False


def cancel(platform, dep_id: int) -> str:
    """Cancel a queued deployment at once, or ask the worker to stop a running one."""
    with session(platform.engine) as db:
        dep = db.get(Deployment, dep_id)
        if dep is None:
            from core.errors import NotFound
            raise NotFound(f"deployment {dep_id} not found")
        if dep.status == DS.QUEUED.value and fail(db, dep_id, "cancelled", "cancelled by a user before it started",
                                                  only_from=(DS.QUEUED.value,)):
            return "FAILED"
        db.refresh(dep)   # a worker may have claimed it between the read and the update (found in review)
        if dep.status == DS.BUILDING.value:
            platform.redis.set(_cancel_key(platform, dep_id), "1", ex=24 * 3600)
            return "CANCELLING"
        from core.errors import ValidationError
        raise ValidationError(f"deployment #{dep_id} already finished ({dep.status}); nothing to cancel")
