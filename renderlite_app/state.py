"""Dashboard state. All data comes from the control layer on the server.

Authorization: the admin token lives only in the backend var ``_token`` (Reflex never
sends underscore vars to the browser); the browser only learns ``authed``. Every event
handler -- including the background log follower -- re-checks the token against the
token file and redirects to /login when it no longer matches.
"""
from __future__ import annotations

import asyncio
import threading
import time

import reflex as rx

from control import auth, deployments as dctl, lifecycle, views
from control import projects as ctl
from control.deployments import request_deploy
from sqlmodel import select

from core.errors import NotFound, RenderLiteError
from core.text import clean
from jobs.progress import read_lines
from models.db import session
from models.tables import DeploymentStatus, Project, Service

_platform = None
_platform_lock = threading.Lock()

LOG_MAX_LINES = 3000  # lines of build log kept on screen
RUNTIME_TAIL = 200  # lines of container log shown
FINISHED = {DeploymentStatus.SUCCESS.value, DeploymentStatus.FAILED.value}


def platform():
    """The web process's Platform (settings, DB engine, Redis, broker, Docker), built once."""
    global _platform
    if _platform is None:
        with _platform_lock:
            if _platform is None:
                from core.wiring import build

                _platform = build()
    return _platform


def _db():
    return session(platform().engine)


def _by_name(db, table, name: str, what: str):
    """Look a row up by its exact name (the control layer reads all-digit refs as ids)."""
    row = db.exec(select(table).where(table.name == name)).first()
    if not row:
        raise NotFound(f"{what} '{name}' not found")
    return row


def _short(sha: str | None) -> str:
    return (sha or "")[:7]


def _deployment_row(d, live_id: int | None, kept: set[int]) -> dict[str, str]:
    v = views.deployment(d)
    stage = "" if v["failure_stage"] == "cancelled" else v["failure_stage"]
    failure = ": ".join(x for x in (stage, v["failure_reason"]) if x)
    live = d.id == live_id
    return {"id": str(v["id"]), "status": v["status"], "commit": _short(v["commit_sha"]),
            "duration": f"{v['duration_s']} s" if v["duration_s"] is not None else "",
            "created": (v["created_at"] or "")[:19].replace("T", " "), "failure": failure,
            "live": "live" if live else "",
            "kind": f"rollback to #{v['rollback_of']}" if v["rollback_of"] else
                    f"redeploy of #{v['redeploy_of']}" if v["redeploy_of"] else "",
            "root": "runs as root" if v["runs_as_root"] else "",
            # only deployments whose image is still kept (the last RENDERLITE_KEEP_IMAGES versions), not the live one
            "can_rollback": "yes" if v["status"] == "SUCCESS" and not live and d.id in kept else ""}


def _runtime_tail(container_id: str) -> str:
    """The live container's last lines. Blocking Docker call: run it in a thread, outside the state lock."""
    if not container_id:
        return "(no running container: deploy the service first)"
    try:
        c = platform().docker.containers.get(container_id)
        return clean(c.logs(tail=RUNTIME_TAIL).decode("utf-8", "replace")) or "(the container has printed nothing yet)"
    except Exception as e:  # noqa: BLE001 - Docker missing or container gone
        return f"(runtime logs unavailable: {type(e).__name__}: {e})"


def _route_name(state: rx.State) -> str:
    """The [name] segment of /projects/[name] or /services/[name], as the browser sent it."""
    return str(state.router.url.path or "").rstrip("/").rsplit("/", 1)[-1].strip().lower()


def _client_connected(state: rx.State) -> bool:
    """False once the browser tab that owns this state has disconnected (best effort)."""
    try:
        from renderlite_app.renderlite_app import app

        token = state.router.session.client_token
        return not token or token in app.event_namespace.token_to_sid
    except Exception:  # noqa: BLE001 - internals may change; keep following then
        return True


class AuthState(rx.State):
    """Login status. The token itself is a backend-only var."""

    authed: bool = False
    error: str = ""
    _token: str = ""
    _after_login: str = "/"

    def _allowed(self) -> bool:
        if auth.check(platform().settings, self._token):
            return True
        self._token, self.authed = "", False
        return False

    def _deny(self):
        path = str(self.router.url.path or "/")
        self._after_login = path if path.startswith("/") and not path.startswith("/login") else "/"
        return rx.redirect("/login")

    def _fail(self, e: Exception) -> None:
        self.error = str(e) if isinstance(e, RenderLiteError) else f"unexpected error: {type(e).__name__}: {e}"

    @rx.event
    def login_load(self):
        self.error = ""
        if self._allowed():
            return rx.redirect("/")

    @rx.event
    def login(self, form: dict):
        token = str(form.get("token") or "").strip()
        if not auth.check(platform().settings, token):
            self.error = "that is not the admin token; copy it from the output of `./renderlite up`"
            return
        self._token, self.authed, self.error = token, True, ""
        target, self._after_login = self._after_login or "/", "/"
        return rx.redirect(target)

    @rx.event
    def logout(self):
        """Sign out, and leave this tab a fresh session: Reflex keys the server-side state (which may
        hold a revealed value or logs) by a token in the tab's sessionStorage; dropping it means a
        reload of this tab can never be sent the old state."""
        self._token, self.authed, self.error = "", False, ""
        return rx.call_script("window.sessionStorage.removeItem('token'); window.location.replace('/login')")


class ProjectsState(AuthState):
    projects: list[dict[str, str]] = []

    def _refresh(self) -> None:
        with _db() as db:
            counts: dict[int, int] = {}
            for s in ctl.list_services(db):
                counts[s.project_id] = counts.get(s.project_id, 0) + 1
            self.projects = [{"name": p.name, "created": (views.project(p)["created_at"] or "")[:10],
                              "services": str(counts.get(p.id, 0))} for p in ctl.list_projects(db)]

    @rx.event
    def load(self):
        if not self._allowed():
            return self._deny()
        self.error = ""
        self._refresh()

    @rx.event
    def create(self, form: dict):
        if not self._allowed():
            return self._deny()
        try:
            with _db() as db:
                ctl.create_project(db, str(form.get("name") or ""))
        except Exception as e:  # noqa: BLE001 - shown to the user
            return self._fail(e)
        self.error = ""
        self._refresh()
        return rx.set_value("project-name-input", "")


class ProjectState(AuthState):
    project_name: str = ""
    _project_id: int = 0
    services: list[dict[str, str]] = []

    def _refresh(self) -> None:
        settings = platform().settings
        with _db() as db:
            p = _by_name(db, Project, _route_name(self), "project")
            self.project_name, self._project_id = p.name, p.id
            self.services = [{k: str(v if v is not None else "") for k, v in views.service(s, settings).items()}
                             for s in ctl.list_services(db, p.id)]

    @rx.event
    def load(self):
        if not self._allowed():
            return self._deny()
        self.error, self.project_name, self.services, self._project_id = "", "", [], 0
        try:
            self._refresh()
        except Exception as e:  # noqa: BLE001
            self._fail(e)

    @rx.event
    def create(self, form: dict):
        if not self._allowed():
            return self._deny()
        if not self._project_id:
            self.error = "this project does not exist; go back to Projects"
            return
        data = ctl.ServiceInput(
            project=self._project_id, name=str(form.get("name") or ""), repo_url=str(form.get("repo_url") or ""),
            branch=str(form.get("branch") or "main"), root_dir=str(form.get("root_dir") or ""),
            dockerfile_path=str(form.get("dockerfile_path") or "Dockerfile"), port=str(form.get("port") or ""))
        try:
            lifecycle.create_service(platform(), data)
        except Exception as e:  # noqa: BLE001
            return self._fail(e)
        self.error = ""
        self._refresh()
        return [rx.set_value(i, "") for i in ("service-name-input", "repo-url-input", "root-dir-input")]

    @rx.event
    def delete(self):
        """Delete this project; refused (with the reason shown) while it has services."""
        if not self._allowed():
            return self._deny()
        try:
            with _db() as db:
                ctl.delete_project(db, self._project_id)
        except Exception as e:  # noqa: BLE001
            return self._fail(e)
        self.error, self.project_name, self.services, self._project_id = "", "", [], 0
        return rx.redirect("/")


class ServiceState(AuthState):
    service: dict[str, str] = {}
    found: bool = False                  # the page's service exists (else the page shows only the error)
    project_name: str = ""
    deployments: list[dict[str, str]] = []
    selected_id: int = 0
    selected_status: str = ""
    latest_status: str = ""
    build_log: str = ""
    build_plan: str = ""                 # the Dockerfile RenderLite generated for the selected deployment
    runtime_log: str = ""
    following: bool = False
    _ref: str = ""
    _service_id: int = 0
    _log_next: int = 0
    _log_lines: list[str] = []
    _gen: int = 0
    _container_id: str = ""

    # -- reading (called with the state lock held) --------------------------------

    def _refresh(self) -> None:
        settings = platform().settings
        with _db() as db:
            svc = _by_name(db, Service, self._ref, "service")
            self._service_id, self.found = svc.id, True
            info = {k: str(v if v is not None else "") for k, v in views.service(svc, settings).items()}
            info["detail"] = str(getattr(svc, "status_detail", None) or "")
            deps = ctl.list_deployments(db, svc.id)
            origin = dctl.origin_map(deps)   # the rows already read (the last 50): no second query per refresh
            kept = dctl.kept_versions([d.id for d in deps if d.status == DeploymentStatus.SUCCESS.value],
                                      origin, settings.keep_images)
            live_image = origin.get(svc.live_deployment_id or 0)
            kept = {d for d in kept if origin.get(d) != live_image}   # the live image again is a redeploy
            # Assign only what changed: every assignment is pushed to the browser.
            self._put(service=info, project_name=ctl.get_project(db, svc.project_id).name,
                      deployments=[_deployment_row(d, svc.live_deployment_id, kept) for d in deps],
                      latest_status=deps[0].status if deps else "")
            live = ctl.get_deployment(db, svc.live_deployment_id) if svc.live_deployment_id else None
            self._container_id = (live.container_id or "") if live else ""
            if not self.selected_id and deps:
                self._select(deps[0].id)

    def _put(self, **values) -> None:
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    def _select(self, dep_id: int) -> None:
        self.selected_id, self.selected_status, self.build_plan = dep_id, "", ""
        self._log_next, self._log_lines, self.build_log = 0, [], ""

    def _pull_log(self) -> None:
        """Append new live lines from Redis; a finished deployment shows its saved log."""
        if not self.selected_id:
            return
        p = platform()
        with _db() as db:
            d = ctl.get_deployment(db, self.selected_id)
        self._put(selected_status=d.status, build_plan=d.build_plan or "")
        if d.status in FINISHED and d.log:
            lines = d.log.splitlines()
            self._log_lines, self._log_next = lines[-LOG_MAX_LINES:], len(lines)
        else:
            new = read_lines(p.redis, p.settings.redis_prefix, d.id, self._log_next)
            if not new:
                return
            self._log_next += len(new)
            self._log_lines = (self._log_lines + new)[-LOG_MAX_LINES:]
        self._put(build_log="\n".join(self._log_lines))

    def _still_here(self) -> bool:
        return str(self.router.url.path or "").rstrip("/") == f"/services/{self._ref}" and _client_connected(self)

    # -- events ---------------------------------------------------------------------

    @rx.event
    def load(self):
        if not self._allowed():
            return self._deny()
        self._ref = _route_name(self)
        self.error, self.service, self.deployments, self.runtime_log, self.found = "", {}, [], "", False
        self.project_name = self.latest_status = ""
        self._select(0)
        self._service_id = 0
        try:
            self._refresh()
            self._pull_log()
        except Exception as e:  # noqa: BLE001
            return self._fail(e)
        return ServiceState.follow

    @rx.event
    def select(self, dep_id: str):
        if not self._allowed():
            return self._deny()
        try:
            self._select(int(dep_id))
            self._pull_log()
        except Exception as e:  # noqa: BLE001
            return self._fail(e)
        return ServiceState.follow

    @rx.event
    def deploy(self):
        if not self._allowed():
            return self._deny()
        try:
            if not self._service_id:
                raise NotFound(f"service '{self._ref}' not found")
            dep = request_deploy(platform(), self._service_id)
        except Exception as e:  # noqa: BLE001 - e.g. Redis down: the queue refused the job
            self._fail(e)
            if not isinstance(e, RenderLiteError):
                self.error = f"could not queue the deployment ({type(e).__name__}: {e}); is Redis running?"
            self._refresh()
            return
        self.error = ""
        self._select(dep.id)
        self._refresh()
        self._pull_log()
        return ServiceState.follow

    @rx.event(background=True)
    async def refresh_runtime(self):
        async with self:
            if not self._allowed():
                return self._deny()
            try:
                self._refresh()  # the live container may have changed since the page loaded
            except Exception as e:  # noqa: BLE001
                return self._fail(e)
            cid = self._container_id
        text = await asyncio.to_thread(_runtime_tail, cid)
        async with self:
            self.runtime_log = text

    @rx.event(background=True)
    async def follow(self):
        """Poll once a second while the selected deployment is unfinished (and the tab is open)."""
        async with self:
            if not self._allowed():
                return self._deny()
            self._gen += 1
            gen, self.following = self._gen, True
            s = platform().settings
        deadline = time.monotonic() + s.clone_timeout + s.build_timeout + s.health_timeout + 600
        tick, cid = 0, None
        try:
            while time.monotonic() < deadline:
                async with self:
                    if gen != self._gen or not self._still_here():
                        return
                    if not self._allowed():
                        return self._deny()
                    try:
                        self._refresh()
                        self._pull_log()
                    except Exception as e:  # noqa: BLE001
                        self._fail(e)
                        return
                    done = self.selected_status in FINISHED or not self.selected_id
                    fetch = done or tick % 5 == 0
                    cid = self._container_id
                if fetch:
                    text = await asyncio.to_thread(_runtime_tail, cid)
                    async with self:
                        self._put(runtime_log=text)
                if done:
                    return
                tick += 1
                await asyncio.sleep(1)
        finally:
            async with self:
                if gen == self._gen:
                    self.following = False
