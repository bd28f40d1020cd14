"""One deployment, start to finish: source -> build -> run -> health check -> switch -> retire.

The source is a fresh clone of the service's branch, or, for a rollback, the image of an
earlier deployment (no clone, no build). Everything after that is the same pipeline.
A failure at any stage removes what this deployment created and leaves the live version alone.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import docker.errors
from sqlmodel import select

from control import deployments as ctl, envvars, janitor
from control.locks import ServiceLock
from core.errors import BuildError, Cancelled, DeployError, StartError
from core.secrets import SecretKeyError
from core.text import Lines
from edge import caddy, labels as lbl
from edge.sync import switching, sync_soon
from jobs import base_images, build, clone, preflight, run
from jobs.health import HealthSpec, spec_json
from jobs.progress import DeployLog
from models.db import session
from models.tables import REDEPLOY, Deployment, DeploymentStatus as DS, Project, Service, ServiceStatus

log = logging.getLogger("renderlite.worker")


@dataclass
class Job:
    """What one deployment works on, read once from the database when it is claimed."""
    platform: object
    dep: Deployment
    svc: Service
    project: Project
    out: DeployLog
    workdir: Path
    root_said: bool = False     # the build already told the log the image runs as root
    release: str | None = None  # the Procfile's release: command, run once before the new version starts
    routed: bool = False        # the edge was switched with the database (else publish after)

    @property
    def tag(self) -> str:
        return f"{self.repo}:{self.dep.id}"

    @property
    def repo(self) -> str:
        return lbl.image_repo(self.platform.settings.instance, self.svc.name)

    def checkpoint(self) -> None:
        if ctl.cancel_requested(self.platform, self.dep.id):
            raise Cancelled("cancelled by a user")

    def record(self, **values) -> None:
        with session(self.platform.engine) as db:
            ctl._transition(db, self.dep.id, [DS.BUILDING.value], **values)

    @contextlib.contextmanager
    def stage(self, name: str):
        t = time.monotonic()
        yield
        self.out.line(f"    ({name}: {time.monotonic() - t:.1f} s)")


def claim(platform, deployment_id: int) -> Job | str:
    """QUEUED -> BUILDING, or the reason this deployment will not run (its status)."""
    with session(platform.engine) as db:
        dep = db.get(Deployment, deployment_id)
        if dep is None or dep.status != DS.QUEUED.value:
            return dep.status if dep else "MISSING"
        newer = ctl.newer_queued(db, dep)
        if newer:
            ctl.fail(db, dep.id, "queue", f"superseded by deployment #{newer.id} of the same service")
            return DS.FAILED.value
        ctl.forget_progress(platform, [dep.id])   # a reused number's leftovers (log, cancel request)
        svc = db.get(Service, dep.service_id)
        project = db.get(Project, svc.project_id) if svc else None
        if project is None:   # deleted between the request and now
            ctl.fail(db, dep.id, "queue", "the service was deleted before this deployment started")
            return DS.FAILED.value
        if not ctl.start_building(db, dep.id):
            return DS.FAILED.value
        ctl.set_service_status(db, svc.id, ServiceStatus.BUILDING)
    sync_soon(platform)   # a service not yet serving: its page says "being deployed" now, not in a few seconds
    s = platform.settings
    return Job(platform, dep, svc, project, DeployLog(platform.redis, s.redis_prefix, dep.id),
               Path(tempfile.mkdtemp(prefix=janitor.tmp_prefix(s.instance, svc.name, dep.id))))


def deploy_locked(platform, deployment_id: int, wait: float | None = None) -> str | None:
    """Run one deployment holding its service's lock, as every caller must: the lock is how crash
    recovery tells a running deployment from one whose worker died. None: another deploy of the
    service holds the lock (after ``wait`` seconds; None: do not wait), or this is a redeploy and
    a deploy queued before it has not run yet."""
    with session(platform.engine) as db:
        dep = db.get(Deployment, deployment_id)
        if dep is None:
            return "MISSING"
        service_id = dep.service_id
    lock = ServiceLock(platform.redis, platform.settings.redis_prefix, service_id)
    if not lock.acquire(wait):
        return None
    try:
        with session(platform.engine) as db:
            dep = db.get(Deployment, deployment_id)
            if dep is not None and ctl.older_deploy_waiting(db, dep) is not None:
                return None   # a redeploy runs after the deploys queued before it: look again later
        return deploy(platform, deployment_id)
    finally:
        lock.release()


def deploy(platform, deployment_id: int) -> str:
    """Run one deployment. Returns its final status. Never raises for user errors.
    Call it through ``deploy_locked``."""
    job = claim(platform, deployment_id)
    if isinstance(job, str):
        return job
    s, t0, started = platform.settings, time.monotonic(), None
    try:
        with session(platform.engine) as db:   # before any work: a wrong key fails the deploy at once
            env = envvars.decrypted(db, s, job.svc.id)
        preflight.check_free_disk(preflight.build_paths(platform.docker_root), s.min_free_disk_mb)
        with job.stage("source"):
            source(job, env)
        job.checkpoint()
        job.out.line(f"==> Environment: {len(env)} variable(s) from the service settings" +
                     (f" ({', '.join(sorted(env))})" if env else ""))
        if job.release:
            with job.stage("release command"):
                run_release(job, env)
            job.checkpoint()
        with job.stage("start and health check"):
            started = start_healthy(job, env)
        job.checkpoint()
        go_live(job, started, t0)
    except Exception as e:  # every failure ends the deployment FAILED, exactly once
        fail(job, e, started.container if started else None)
        return DS.FAILED.value
    finally:
        shutil.rmtree(job.workdir, ignore_errors=True)
    if not job.routed:
        publish_route(job)
    # The drain runs after the lock is released: the next deploy of this service need not wait for it.
    # (A worker killed meanwhile, or a listing that fails, leaves the old container to the janitor.)
    # Which containers are old is decided now, under the lock: a later deploy's container, created
    # once the lock is free, is never among them.
    try:
        old = [row["Id"] for row in platform.docker.api.containers(
            all=True, filters=lbl.selector(s.instance, service=job.svc.name)) if row["Id"] != started.container.id]
    except docker.errors.APIError as e:
        log.warning("listing the old containers of %s failed (%s); the janitor retires them", job.svc.name, e)
        old = []
    threading.Thread(target=retire_old, args=(platform, job.svc, old, job.tag),
                     name=f"retire-{job.svc.name}", daemon=False).start()
    return DS.SUCCESS.value


def source(job: Job, env: dict) -> None:
    """Produce the image ``job.tag``: reuse an earlier deployment's (rollback), the live one's
    (redeploy), or clone and build."""
    platform, svc, s = job.platform, job.svc, job.platform.settings
    source_id = job.dep.source_deployment_id
    if job.dep.kind == REDEPLOY:
        # what is live now (the service's lock is held), not what was live when it was queued: a
        # redeploy pressed right after a deploy must not put the older version back (found in a trial)
        if not svc.live_deployment_id:
            raise DeployError("the service has no live deployment to redeploy (it was never deployed, or its "
                              "deployments failed); deploy it")
        source_id = svc.live_deployment_id
        job.record(source_deployment_id=source_id)
    if source_id:
        reuse_image(job, source_id)
        return
    with job.stage("clone"):
        sha = clone.run(clone.ClonePlan(svc.repo_url, svc.branch, job.workdir / "src", s.clone_timeout,
                                        submodules=svc.submodules, max_mb=s.clone_max_mb), job.out)
    job.record(commit_sha=sha, image_origin_id=job.dep.id)
    plan = build.plan(build.BuildRequest(
        checkout=job.workdir / "src", tag=job.tag, timeout=s.build_timeout,
        root_dir=svc.root_dir, dockerfile_path=svc.dockerfile_path, builder=svc.builder,
        build_command=svc.build_command, start_command=svc.start_command, base_images=s.base_images,
        env={k: env[k].reveal() for k in build.DETECT_VARS if k in env},
        memory_mb=s.build_memory_mb, cpus=s.build_cpus, cgroup_parent=platform.build_cgroup),
        nixpacks_bin=shutil.which("nixpacks"))
    job.out.line("==> Build plan")
    for why in plan.decisions:
        job.out.line(f"    {why}")
    job.record(build_plan=plan.generated)
    with session(platform.engine) as db:
        ctl.set_service_runtime(db, svc.id, plan.runtime)
    build.prepare(plan)
    for image, _var in plan.base_vars:   # a local base image asked for the first time (a new Node major)
        base_images.ensure_for(platform.docker, image, log=lambda m: job.out.line(f"    {m} (first use)"))
    notes = build.version_notes(platform.docker, plan)
    for note in notes:
        job.out.line(f"    {note}")
    job.checkpoint()
    with job.stage("build"):
        build.run(platform.docker, plan, job.out, lambda: ctl.cancel_requested(platform, job.dep.id), notes=notes)
    job.release = plan.release
    foreign = build.foreign_labels(platform.docker, job.tag)
    if foreign:
        raise BuildError(f"the image sets routing labels RenderLite owns ({', '.join(foreign[:3])}); remove those "
                         "LABEL lines from the Dockerfile: RenderLite routes the service itself")
    root = build.runs_as_root(platform.docker, job.tag)
    job.record(runs_as_root=root)
    if root:
        job.out.line("==> The image runs as root: add a USER line to its Dockerfile (the dashboard flags it)")
        job.root_said = True
        if s.require_non_root:
            raise BuildError("the image runs as root, and this installation refuses root images "
                             "(RENDERLITE_REQUIRE_NON_ROOT); add `USER <non-root user>` to the Dockerfile")


def reuse_image(job: Job, source_id: int) -> None:
    """Tag the image of deployment ``source_id`` (or of the build that made it) as this deployment's."""
    platform, s = job.platform, job.platform.settings
    with session(platform.engine) as db:
        src = db.get(Deployment, source_id)
        origin = ctl.origins(db, job.svc.id).get(source_id, source_id)
    what = "Redeploying the live" if job.dep.kind == REDEPLOY else "Rolling back to"
    job.out.line(f"==> {what} deployment #{src.id} (commit {(src.commit_sha or '?')[:7]}): "
                 "reusing its image, no clone or build; settings and environment variables are today's")
    for tag in dict.fromkeys((f"{job.repo}:{src.id}", f"{job.repo}:{origin}")):
        try:
            platform.docker.images.get(tag).tag(job.repo, str(job.dep.id))
            break
        except docker.errors.ImageNotFound:
            continue
    else:
        raise DeployError(f"the image of deployment #{src.id} was removed (RenderLite keeps the images of the "
                          f"last {s.keep_images} versions); deploy that commit again instead")
    job.record(commit_sha=src.commit_sha, build_plan=src.build_plan, runs_as_root=src.runs_as_root,
               image_origin_id=origin)


RELEASE_TAIL = 20


def app_limits(svc: Service, s) -> dict:
    """The service's memory, CPU and process limits, else the installation's defaults."""
    return dict(memory_mb=svc.memory_mb or s.app_memory_mb, cpus=svc.cpus or s.app_cpus, pids=svc.pids or s.app_pids)


class ReleaseError(DeployError):
    stage = "release"


def run_release(job: Job, env: dict) -> None:
    """The Procfile's `release:` command (migrations, say), in a one-off container of the new image
    with the service's variables and limits, before the new version starts. A failure fails the
    deployment; the version already serving keeps serving (Heroku's release phase, Render's
    pre-deploy command)."""
    platform, svc, s = job.platform, job.svc, job.platform.settings
    job.out.line(f"==> Release command (Procfile release:): {job.release}")
    labels = lbl.release_labels(s.instance, job.project.name, svc.name, job.dep.id)
    cplan = run.ContainerPlan(
        name=f"rl-{s.instance}-{svc.name}-{job.dep.id}-release", image=job.tag, port=svc.container_port or run.DEFAULT_PORT,
        env=env, network=s.apps_network, labels=labels, **app_limits(svc, s))
    run.ensure_network(platform.docker, s.apps_network)
    kwargs = dict(cplan.run_kwargs(), entrypoint=["/bin/sh", "-c"], command=[job.release],
                  restart_policy={"Name": "no"})
    try:
        container = platform.docker.containers.run(**kwargs)
    except docker.errors.APIError as e:
        with contextlib.suppress(docker.errors.APIError):   # created, then refused at start: not left behind
            platform.docker.api.remove_container(cplan.name, force=True)
        raise ReleaseError(f"Docker could not start the release command: {e.explanation or e}") from None
    tail: list[str] = []
    try:
        deadline = time.monotonic() + s.build_timeout
        reader = threading.Thread(target=_follow, args=(container, job, tail), daemon=True)
        reader.start()
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                break
            if time.monotonic() > deadline:
                raise ReleaseError(f"the release command ran over {s.build_timeout} s and was stopped; make it faster, "
                                  "or raise RENDERLITE_BUILD_TIMEOUT. The version already serving keeps serving")
            if ctl.cancel_requested(platform, job.dep.id):
                raise Cancelled("cancelled by a user during the release command")
            time.sleep(0.2)
        reader.join(15)   # the output until the end, before the log is stored with the verdict
        state = container.attrs.get("State", {})
        code = state.get("ExitCode")
        if code != 0:
            said = " | ".join(build.telling(tail)) or "no output"
            raise ReleaseError(f"the release command `{job.release}` exited with code {code}"
                               f"{run.exit_hint(code, bool(state.get('OOMKilled')))} (last output: {said[:600]}); "
                               "fix it (or the Procfile's release: line) and deploy again. The version already "
                               "serving keeps serving")
        job.out.line("    release command done")
    finally:
        run.remove(container)


def _follow(container, job: Job, tail: list[str]) -> None:
    """The release command's output, line by line, into the deploy log (and its last lines kept)."""
    lines = Lines()

    def take(found: list[str]) -> None:
        for line in found:
            job.out.line(f"    {line}")
            tail.append(line)
            del tail[:-RELEASE_TAIL]
    try:
        for chunk in container.logs(stream=True, follow=True):
            take(lines.feed(chunk.decode("utf-8", "replace")))
    except Exception:  # noqa: BLE001 - the container was removed meanwhile: the output ends here
        pass
    take(lines.flush())


@dataclass
class Started:
    container: object
    port: int


def start_healthy(job: Job, env: dict) -> Started:
    """Start the container and wait for its health check. With no port set, route to the image's
    EXPOSE, else to the one port the app turns out to listen on (restarting it once, labelled)."""
    platform, svc, s = job.platform, job.svc, job.platform.settings
    port, why = run.choose_port(svc.container_port, run.image_ports(platform.docker.images.get(job.tag)))
    job.out.line(f"==> Port {port} ({why})")
    spec = HealthSpec.from_service(svc, s.health_timeout)
    job.record(health=spec_json(spec))   # running checks use this spec until the next deploy
    for attempt in (1, 2):
        ident = lbl.Identity(s.instance, job.project.name, svc.name, job.dep.id, svc.subdomain, port)
        cplan = run.ContainerPlan(
            name=f"rl-{s.instance}-{svc.name}-{job.dep.id}", image=job.tag, port=port, env=env,
            network=s.apps_network, labels=lbl.container_labels(ident, s.domain, s.apps_network),
            **app_limits(svc, s))
        container = run.start(platform.docker, cplan, job.out)
        try:
            run.wait_healthy(container, cplan, spec, job.out, discover=svc.container_port is None and attempt == 1,
                             ready=True)   # a new version must also be ready: no server errors on its first pass
            check_user(job, container)
            return Started(container, port)
        except run.PortFound as found:
            run.remove(container)
            job.out.line(f"==> The app listens on port {found.port}, not on $PORT ({port}); restarting it routed to "
                         f"{found.port} (set the service's port to {found.port} to skip this)")
            port = found.port
        except StartError:
            run.remove(container)
            raise
    raise StartError(f"the app did not settle on a port; set the service's port")   # pragma: no cover


def check_user(job: Job, container) -> None:
    """Record whether the app really runs as root (uid 0 in /proc), and refuse it if the installation says so."""
    uid = run.process_uid(container)
    if uid is None:
        return
    job.record(runs_as_root=uid == 0)
    if uid == 0 and not job.root_said:   # a rollback, or USER naming a uid-0 account: the build did not say it
        job.out.line("==> The app runs as root (uid 0): add a USER line to its Dockerfile (the dashboard flags it)")
        if job.platform.settings.require_non_root:
            raise StartError("the app runs as root (uid 0), and this installation refuses that "
                             "(RENDERLITE_REQUIRE_NON_ROOT); add `USER <non-root user>` to the Dockerfile")


def fail(job: Job, e: Exception, container) -> None:
    if isinstance(e, SecretKeyError):
        e = DeployError(f"cannot decrypt the service's environment variables: {e}; the app was not started")
        e.stage = "config"
    stage = e.stage if isinstance(e, DeployError) else "internal"
    reason = str(e) if isinstance(e, DeployError) else f"internal error: {type(e).__name__}: {e}; see the worker log"
    if not isinstance(e, DeployError):
        log.exception("deployment %s crashed", job.dep.id)
    job.out.line(f"==> FAILED at {stage}: {reason}")
    cleanup_failed(job.platform, container, job.tag)
    with session(job.platform.engine) as db:
        ctl.fail(db, job.dep.id, stage, reason, log=job.out.text())
        fresh = db.get(Service, job.svc.id)
        ctl.set_service_status(db, job.svc.id,
                               ServiceStatus.RUNNING if fresh.live_deployment_id else ServiceStatus.FAILED)
    sync_soon(job.platform)   # the edge's page says "failed" at once (it said "being deployed" for seconds)


def go_live(job: Job, started: Started, t0: float) -> None:
    """The commit point: the deployment SUCCESS and the service's live one, in one transaction."""
    s = job.platform.settings
    job.out.line(f"==> Routing {job.svc.subdomain}.{s.domain} to deployment #{job.dep.id}")
    # The edge is switched first, under its lock, and the database commits before the lock is
    # released: whoever reads SUCCESS can reach the new version at once.
    with switching(job.platform, job.svc.name, job.dep.id) as job.routed, session(job.platform.engine) as db:
        if not ctl.go_live(db, job.dep.id, job.svc.id, image_tag=job.tag, container_id=started.container.id,
                           port=started.port):
            raise DeployError("this deployment was ended meanwhile (cancelled, or marked failed when its worker "
                              "looked dead); the live version was not switched; deploy again")
    with session(job.platform.engine) as db:
        # said only once it is true (a switch refused above must not read "Live" before "FAILED")
        job.out.line(f"==> Live at {s.service_url(job.svc.subdomain)} ({time.monotonic() - t0:.1f} s)")
        ctl.save_log(db, job.dep.id, job.out.text())


def publish_route(job: Job) -> None:
    """Publish the route table now. If that fails the deployment stays live: the edge watcher
    rebuilds the routes from the database within seconds."""
    if not sync_soon(job.platform):
        job.out.line("    the route table could not be published now; the edge watcher publishes it within seconds")


def retire_old(platform, svc: Service, old: list[str], live_tag: str) -> None:
    """After the drain period, stop the service's old containers and prune old images."""
    s = platform.settings
    if old:   # the edge moves new requests within its DNS refresh; then in-flight ones get the drain
        time.sleep(caddy.REFRESH_S + 0.5 + s.drain_seconds)
    for cid in old:
        log.info("retiring container %s of %s", cid[:12], svc.name)
        with contextlib.suppress(docker.errors.APIError):
            platform.docker.api.stop(cid, timeout=10)   # SIGTERM: the app closes what it holds; SIGKILL after 10 s
        with contextlib.suppress(docker.errors.NotFound):
            platform.docker.api.remove_container(cid, force=True)
    prune_images(platform, svc, live_tag=live_tag)


def prune_images(platform, svc: Service, live_tag: str) -> list[str]:
    """Keep the images of the service's last N versions (distinct images of successful deployments:
    the database says which), the live one and those of deployments still running; remove every
    other tag of its repository, including tags no record knows."""
    s = platform.settings
    repo = lbl.image_repo(s.instance, svc.name)
    with session(platform.engine) as db:
        mine = select(Deployment.id).where(Deployment.service_id == svc.id)
        successes = db.exec(mine.where(Deployment.status == DS.SUCCESS.value).order_by(Deployment.id.desc())).all()
        recent = ctl.kept_versions(list(successes), ctl.origins(db, svc.id), s.keep_images)
        running = db.exec(mine.where(Deployment.status.in_([DS.QUEUED.value, DS.BUILDING.value]))).all()
    keep = {f"{repo}:{i}" for i in [*recent, *running]} | {live_tag}   # never a deploy's image mid-flight
    removed = []
    for img in platform.docker.images.list(name=repo):
        for t in img.tags:
            if t.startswith(repo + ":") and t not in keep:
                with contextlib.suppress(docker.errors.APIError):
                    platform.docker.images.remove(t, noprune=False)
                    removed.append(t)
    return removed


def cleanup_failed(platform, container, tag: str) -> None:
    if container is not None:
        run.remove(container)
    try:
        platform.docker.images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as e:
        log.warning("could not remove image %s: %s", tag, e)
