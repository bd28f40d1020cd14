"""The JSON API under /api, served by the dashboard's web process (Reflex api_transformer).

Every route except /api/health requires the admin token: `Authorization: Bearer <token>`.
Typed errors become HTTP codes here and only here.
"""
from __future__ import annotations

import docker.errors
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from control import auth, deployments, envvars, lifecycle, projects, views
from control.service_settings import columns
from core.errors import NotFound, RenderLiteError, ValidationError
from core.text import clean
from jobs.progress import read_lines
from models import validation
from models.db import session

log = logging.getLogger("renderlite.api")


def narrow(body: dict) -> dict[str, str | None]:
    """The one shape handlers get: every value a string (or null). JSON numbers and booleans are
    written as text (validation reads them from there); lists and objects are refused."""
    out: dict[str, str | None] = {}
    for key, value in body.items():
        if value is None or isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            out[key] = str(value)
        else:
            raise ValidationError(f"{key!r} must be a string or a number, not a JSON {type(value).__name__}")
    return out


def int_param(req: Request, name: str, default: int) -> int:
    raw = req.query_params.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationError(f"query parameter {name}={raw!r} must be a whole number, e.g. {name}={default}")
    return int(raw)


def make_api(platform) -> Starlette:
    s = platform.settings

    def guarded(fn):
        async def endpoint(request: Request):
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else None
            if not auth.check(s, token):
                return JSONResponse({"error": "missing or wrong admin token; pass 'Authorization: Bearer <token>' "
                                              "(the token is printed by `./renderlite up`)"}, status_code=401)
            try:
                raw = await request.body()
                body = await request.json() if raw and request.method in ("POST", "PUT", "PATCH") else {}
            except ValueError:
                return JSONResponse({"error": "request body is not JSON"}, status_code=400)
            if not isinstance(body, dict):
                return JSONResponse({"error": f"request body must be a JSON object ({{...}}), not a JSON "
                                              f"{type(body).__name__}"}, status_code=400)
            def call():
                with session(platform.engine) as db:
                    return fn(request, db, narrow(body or {}))
            try:
                return JSONResponse(await run_in_threadpool(call))
            except ValidationError as e:
                return JSONResponse({"error": str(e)}, status_code=422)
            except NotFound as e:
                return JSONResponse({"error": str(e)}, status_code=404)
            except lifecycle.Busy as e:
                return JSONResponse({"error": str(e)}, status_code=409)
            except deployments.QueueUnavailable as e:
                return JSONResponse({"error": str(e)}, status_code=503)
            except RenderLiteError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            except Exception:
                log.exception("API %s %s failed", request.method, request.url.path)
                return JSONResponse({"error": "internal error in RenderLite; see the web process log"}, status_code=500)
        return endpoint

    def list_projects(req, db, body):
        return [views.project(p) for p in projects.list_projects(db)]

    def create_project(req, db, body):
        return views.project(projects.create_project(db, str(body.get("name", ""))))

    def delete_project(req, db, body):
        return {"deleted": projects.delete_project(db, req.path_params["name"])}

    def list_services(req, db, body):
        return [views.service(x, s) for x in projects.list_services(db, req.query_params.get("project"))]

    def create_service(req, db, body):
        known = {"project", "name", "repo_url", "branch", "root_dir", "dockerfile_path", "port", "subdomain",
                 "builder", "build_command", "start_command"}
        missing = [k for k in ("project", "name", "repo_url") if not body.get(k)]
        if missing:
            raise ValidationError(f"missing {', '.join(missing)}: send e.g. "
                                  '{"project": "demo", "name": "web", "repo_url": "https://github.com/you/app"}')
        data = projects.ServiceInput(**{k: v for k, v in body.items() if k in known and v is not None})
        return views.service(lifecycle.create_service(platform, data), s)

    def get_service(req, db, body):
        return views.service(projects.get_service(db, req.path_params["name"]), s)

    def deploy(req, db, body):
        dep = deployments.request_deploy(platform, req.path_params["name"])
        return views.deployment(dep)

    def rollback(req, db, body):
        target = body.get("deployment_id")
        if target is not None and not (str(target).isascii() and str(target).isdigit()):
            raise ValidationError('deployment_id must be a deployment number, e.g. {"deployment_id": 12}')
        dep = deployments.request_deploy(platform, req.path_params["name"], rollback=True,
                                         rollback_to=int(target) if target is not None else None)
        return views.deployment(dep)

    def redeploy(req, db, body):
        return views.deployment(deployments.request_deploy(platform, req.path_params["name"], rerun=True))

    def list_deployments(req, db, body):
        svc = projects.get_service(db, req.path_params["name"])
        return [views.deployment(d) for d in projects.list_deployments(db, svc.id)]

    def get_deployment(req, db, body):
        start = int_param(req, "log_from", 0)
        d = projects.get_deployment(db, int(req.path_params["id"]))
        out = views.deployment(d)
        lines = read_lines(platform.redis, s.redis_prefix, d.id, start)
        if not lines and d.log:
            lines = d.log.splitlines()[start:]
        out["log_lines"] = lines
        out["log_next"] = start + len(lines)
        return out

    def runtime_logs(req, db, body):
        svc = projects.get_service(db, req.path_params["name"])
        if not svc.live_deployment_id:
            return {"lines": [], "note": "the service has no live deployment yet"}
        d = projects.get_deployment(db, svc.live_deployment_id)
        try:
            c = platform.docker.containers.get(d.container_id)
            text = c.logs(tail=int_param(req, "tail", 200)).decode("utf-8", "replace")
        except (docker.errors.NotFound, docker.errors.NullResource):
            raise NotFound("the live container is gone; deploy again") from None
        return {"lines": clean(text).splitlines()}

    def lifecycle_action(action):
        def handler(req, db, body):
            return views.service(getattr(lifecycle, action)(platform, req.path_params["name"]), s)
        return handler

    def update_service(req, db, body):
        name = req.path_params["name"]
        body = dict(body)
        subdomain = body.pop("subdomain", None)
        columns(body)                      # every change checked before any is saved
        if subdomain is not None:
            validation.name(subdomain, "subdomain")
        svc = lifecycle.update_settings(platform, name, body) if body else projects.get_service(db, name)
        if subdomain is not None:
            svc = lifecycle.rename_subdomain(platform, name, subdomain)
        return views.service(svc, s)

    def delete_service(req, db, body):
        lifecycle.delete(platform, req.path_params["name"])
        return {"deleted": req.path_params["name"]}

    def cancel_deployment(req, db, body):
        return {"id": int(req.path_params["id"]), "status": deployments.cancel(platform, int(req.path_params["id"]))}

    def env_list(req, db, body):
        return envvars.masked(db, projects.get_service(db, req.path_params["name"]))

    def env_set(req, db, body):
        svc = projects.get_service(db, req.path_params["name"])
        if "value" not in body:
            raise ValidationError('send {"value": "..."}')
        envvars.set_var(db, s, svc, req.path_params["key"], body["value"])
        return {"key": req.path_params["key"], "value": envvars.MASK}

    def env_unset(req, db, body):
        envvars.unset_var(db, projects.get_service(db, req.path_params["name"]), req.path_params["key"])
        return {"deleted": req.path_params["key"]}

    def env_reveal(req, db, body):
        svc = projects.get_service(db, req.path_params["name"])
        return {"key": req.path_params["key"], "value": envvars.reveal(db, s, svc, req.path_params["key"])}

    async def health(request):
        return JSONResponse({"ok": True})

    routes = [
        Route("/api/health", health),
        Route("/api/projects", guarded(list_projects), methods=["GET"]),
        Route("/api/projects", guarded(create_project), methods=["POST"]),
        Route("/api/projects/{name}", guarded(delete_project), methods=["DELETE"]),
        Route("/api/services", guarded(list_services), methods=["GET"]),
        Route("/api/services", guarded(create_service), methods=["POST"]),
        Route("/api/services/{name}", guarded(get_service), methods=["GET"]),
        Route("/api/services/{name}", guarded(update_service), methods=["PATCH"]),
        Route("/api/services/{name}", guarded(delete_service), methods=["DELETE"]),
        Route("/api/services/{name}/deploy", guarded(deploy), methods=["POST"]),
        Route("/api/services/{name}/rollback", guarded(rollback), methods=["POST"]),
        Route("/api/services/{name}/redeploy", guarded(redeploy), methods=["POST"]),
        Route("/api/services/{name}/stop", guarded(lifecycle_action("stop")), methods=["POST"]),
        Route("/api/services/{name}/start", guarded(lifecycle_action("start")), methods=["POST"]),
        Route("/api/services/{name}/restart", guarded(lifecycle_action("restart")), methods=["POST"]),
        Route("/api/services/{name}/deployments", guarded(list_deployments), methods=["GET"]),
        Route("/api/services/{name}/logs", guarded(runtime_logs), methods=["GET"]),
        Route("/api/services/{name}/env", guarded(env_list), methods=["GET"]),
        Route("/api/services/{name}/env/{key}", guarded(env_set), methods=["PUT"]),
        Route("/api/services/{name}/env/{key}", guarded(env_unset), methods=["DELETE"]),
        Route("/api/services/{name}/env/{key}/reveal", guarded(env_reveal), methods=["GET"]),
        Route("/api/deployments/{id:int}/cancel", guarded(cancel_deployment), methods=["POST"]),
        Route("/api/deployments/{id:int}", guarded(get_deployment), methods=["GET"]),
    ]
    return Starlette(routes=routes)
