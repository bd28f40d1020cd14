"""What a member does to one service from its page: lifecycle, rollback, settings, environment.

Each handler re-checks the token first (authorization on the server for every event), runs the
control layer in a thread (Docker calls and health checks can take seconds), then refreshes the
page's state from the database. Environment values reach the browser only when a member asks to
reveal one, and are dropped again when the page reloads.
"""
from __future__ import annotations

import asyncio

import reflex as rx

from control import deployments, envvars, lifecycle
from control.deployments import request_deploy
from models.db import session
from renderlite_app.state import ServiceState, _route_name, platform

ACTIONS = {"stop": lifecycle.stop, "start": lifecycle.start, "restart": lifecycle.restart}
SETTINGS = ("branch", "root_dir", "dockerfile_path", "port", "builder", "build_command", "start_command",
            "submodules", "health_type", "health_path", "health_interval", "health_retries", "health_start_period",
            "memory_mb", "cpus", "pids")


class ServiceActions(ServiceState):
    busy: str = ""                       # the action running now, shown on its button
    notice: str = ""
    env: list[dict[str, str]] = []       # key and mask, or the value once revealed
    confirm_delete: bool = False

    def _load_env(self) -> None:
        with session(platform().engine) as db:
            from control.projects import get_service
            rows = envvars.masked(db, get_service(db, self._service_id))
        self.env = [{"key": r["key"], "value": r["value"], "shown": ""} for r in rows]

    async def _run(self, label: str, fn, *args, refresh: bool = True) -> bool | None:
        """Check the token, run ``fn(platform, *args)`` in a thread, then refresh.
        True on success, False on an error (shown), None when the member is signed out."""
        async with self:
            if not self._allowed():
                return None
            self.busy, self.error, self.notice = label, "", ""
        err = None
        try:
            await asyncio.to_thread(fn, platform(), *args)
        except Exception as e:  # noqa: BLE001 - shown to the member
            err = e
        async with self:
            self.busy = ""
            if err is not None:
                self._fail(err)
            if refresh:
                try:
                    self._refresh()
                    self._load_env()
                except Exception as e:  # noqa: BLE001 - e.g. the service was deleted meanwhile
                    self._fail(e)
        return err is None

    @rx.event
    def load_env(self):
        """Runs after ServiceState.load, in order (a plain event, not a background one: as a background
        task it could run before load had set the page's service, and show the previous page's variables)."""
        self.notice, self.env, self.confirm_delete = "", [], False
        if not self._allowed() or not self._service_id or self._ref != _route_name(self):
            return
        try:
            self._load_env()
        except Exception as e:  # noqa: BLE001 - e.g. the service was deleted meanwhile
            self._fail(e)

    @rx.event(background=True)
    async def act(self, action: str):
        if action not in ACTIONS:
            return
        ok = await self._run(action, ACTIONS[action], self._ref)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            async with self:
                self.notice = {"stop": "stopped", "start": "started", "restart": "restarted"}[action]

    async def _queue(self, label: str, **kwargs):
        """Queue a rollback or redeploy of this page's service, select it and follow its log."""
        async with self:
            ref = self._ref
        result = {}

        def queue(p, ref):
            result["dep"] = request_deploy(p, ref, **kwargs)
        ok = await self._run(label, queue, ref)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            async with self:
                self._select(result["dep"].id)
                self._refresh()
            return ServiceState.follow

    @rx.event(background=True)
    async def redeploy(self):
        """The live image again, with today's settings and environment, switched without downtime."""
        return await self._queue("redeploy", rerun=True)

    @rx.event(background=True)
    async def rollback(self, dep_id: str):
        if not str(dep_id).isdigit():
            return
        return await self._queue("rollback", rollback_to=int(dep_id), rollback=True)

    @rx.event(background=True)
    async def cancel(self):
        """Cancel the selected deployment (queued: at once; building: the worker stops it within seconds)."""
        async with self:
            dep_id = self.selected_id
        ok = await self._run("cancel", lambda p, d: deployments.cancel(p, d), dep_id)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            async with self:
                self.notice = f"deployment #{dep_id}: cancelling"
            return ServiceState.follow

    @rx.event(background=True)
    async def save_settings(self, form: dict):
        async with self:
            ref = self._ref
        changes = {k: str(form.get(k, "")).strip() for k in SETTINGS if k in form}
        subdomain = str(form.get("subdomain", "")).strip()

        def save(p, ref):
            svc = lifecycle.update_settings(p, ref, changes)
            if subdomain and subdomain != svc.subdomain:
                lifecycle.rename_subdomain(p, ref, subdomain)
        ok = await self._run("settings", save, ref)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            async with self:
                self.notice = "settings saved; they apply from the next deploy (a new subdomain applies now)"

    @rx.event(background=True)
    async def set_env(self, form: dict):
        async with self:
            ref, sid = self._ref, self._service_id
        key, value = str(form.get("key", "")).strip(), str(form.get("value", ""))

        def save(p, ref):
            with session(p.engine) as db:
                from control.projects import get_service
                envvars.set_var(db, p.settings, get_service(db, sid), key, value)
        ok = await self._run("env", save, ref)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            async with self:
                self.notice = f"{key} saved; it takes effect at the next deploy"
            return [rx.set_value("env-key-input", ""), rx.set_value("env-value-input", "")]

    @rx.event(background=True)
    async def unset_env(self, key: str):
        async with self:
            sid = self._service_id

        def drop(p, _ref):
            with session(p.engine) as db:
                from control.projects import get_service
                envvars.unset_var(db, get_service(db, sid), key)
        if await self._run("env", drop, self._ref) is None:
            return rx.redirect("/login")

    @rx.event(background=True)
    async def reveal_env(self, key: str):
        async with self:
            if not self._allowed():
                return rx.redirect("/login")
            sid = self._service_id
        try:
            def read():
                with session(platform().engine) as db:
                    from control.projects import get_service
                    return envvars.reveal(db, platform().settings, get_service(db, sid), key)
            value = await asyncio.to_thread(read)
        except Exception as e:  # noqa: BLE001
            async with self:
                self._fail(e)
            return
        async with self:
            self.env = [dict(r, value=value, shown="yes") if r["key"] == key else r for r in self.env]

    @rx.event
    def ask_delete(self, open_: bool = True):
        if self._allowed():
            self.confirm_delete = open_

    @rx.event(background=True)
    async def delete(self):
        async with self:
            project, self.confirm_delete = self.project_name, False
        ok = await self._run("delete", lifecycle.delete, self._ref, refresh=False)
        if ok is None:
            return rx.redirect("/login")
        if ok:
            return rx.redirect(f"/projects/{project}")
