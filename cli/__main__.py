"""`./renderlite <command>`: platform control (up/down/test) and the API client commands."""
from __future__ import annotations

import argparse
import sys
import time

from cli.client import Api, ApiError, seg
from core.errors import RenderLiteError
from core.settings import Settings, SettingsError


def cmd_projects(args, s):
    api = Api(s)
    if args.action == "create":
        p = api.post("/api/projects", {"name": args.name})
        print(f"created project {p['name']}")
    elif args.action == "delete":
        p = api.call("DELETE", f"/api/projects/{seg(args.name)}")
        print(f"deleted project {p['deleted']}")
    else:
        for p in api.get("/api/projects"):
            print(p["name"])


def cmd_services(args, s):
    api = Api(s)
    if args.action == "create":
        body = {"project": args.project, "name": args.name, "repo_url": args.repo, "branch": args.branch,
                "root_dir": args.root_dir, "dockerfile_path": args.dockerfile, "port": args.port,
                "subdomain": args.subdomain, "builder": args.builder, "build_command": args.build_command,
                "start_command": args.start_command}
        svc = api.post("/api/services", body)
        print(f"created service {svc['name']} -> {s.service_url(svc['subdomain'])} (after its first deploy)")
    else:
        for svc in api.get("/api/services", **({"project": args.project} if args.project else {})):
            print(f"{svc['name']:24} {svc['status']:10} {svc['url'] or '-'}")


def follow(api: Api, dep_id: int, show_log: bool = True) -> dict:
    offset = 0
    while True:
        d = api.get(f"/api/deployments/{seg(dep_id)}", log_from=offset)
        if show_log:
            for line in d["log_lines"]:
                print(line, flush=True)
        offset = d["log_next"]
        if d["status"] in ("SUCCESS", "FAILED"):
            return d
        time.sleep(1)


def cmd_deploy(args, s):
    """`deploy S`, `rollback S [--to N]` and `redeploy S`: queue, then (with --wait) follow to the end."""
    api = Api(s)
    if args.cmd == "rollback":
        d = api.post(f"/api/services/{seg(args.service)}/rollback", {"deployment_id": args.to} if args.to else {})
        print(f"deployment #{d['id']} queued: rollback to #{d['rollback_of']}", flush=True)
    elif args.cmd == "redeploy":
        d = api.post(f"/api/services/{seg(args.service)}/redeploy")
        print(f"deployment #{d['id']} queued: the live image again, with today's settings and variables", flush=True)
    else:
        d = api.post(f"/api/services/{seg(args.service)}/deploy")
        print(f"deployment #{d['id']} queued", flush=True)
    if not args.wait:
        return 0
    d = follow(api, d["id"], show_log=not args.quiet)
    if d["status"] == "SUCCESS":
        print(f"SUCCESS: {api.get(f'/api/services/{seg(args.service)}')['url']}")
        return 0
    if d["failure_stage"] == "cancelled":
        print(f"deployment #{d['id']} was cancelled: {d['failure_reason']}", file=sys.stderr)
    else:
        print(f"deployment #{d['id']} FAILED at {d['failure_stage']}: {d['failure_reason']}", file=sys.stderr)
    return 1


def cmd_status(args, s):
    api = Api(s)
    svc = api.get(f"/api/services/{seg(args.service)}")
    deps = api.get(f"/api/services/{seg(args.service)}/deployments")
    print(f"{svc['name']}: {svc['status']}")
    if svc.get("status_detail"):
        print(f"detail: {svc['status_detail']}")
    print(f"url: {svc['url'] or '(not deployed yet)'}")
    if deps:
        d = deps[0]
        line = f"latest deployment #{d['id']}: {d['status']}"
        if d["failure_reason"]:
            stage = "" if d["failure_stage"] == "cancelled" else f"{d['failure_stage']}: "
            line += f" ({stage}{d['failure_reason']})"
        print(line)
    return 0


def cmd_logs(args, s):
    api = Api(s)
    if args.build:
        deps = api.get(f"/api/services/{seg(args.service)}/deployments")
        if not deps:
            raise ApiError(f"service '{args.service}' has no deployments yet; run `./renderlite deploy {args.service}`")
        follow(api, deps[0]["id"])
    else:
        out = api.get(f"/api/services/{seg(args.service)}/logs")
        if out.get("note"):
            raise ApiError(f"{out['note']}; deploy it with `./renderlite deploy {args.service}`, or see its build "
                           f"with `./renderlite logs {args.service} --build`")
        for line in out["lines"]:
            print(line)
    return 0


def cmd_lifecycle(args, s):
    api = Api(s)
    if args.cmd == "delete":
        api.call("DELETE", f"/api/services/{seg(args.service)}")
        print(f"deleted {args.service}")
        return 0
    if args.cmd == "rename":
        svc = api.call("PATCH", f"/api/services/{seg(args.service)}", json={"subdomain": args.subdomain})
    elif args.cmd == "set":
        changes = {}
        for pair in args.settings:
            if "=" not in pair:
                raise ApiError(f"{pair!r} is not KEY=VALUE (e.g. health_path=/healthz)")
            k, v = pair.split("=", 1)
            changes[k] = v
        svc = api.call("PATCH", f"/api/services/{seg(args.service)}", json=changes)
    else:
        svc = api.post(f"/api/services/{seg(args.service)}/{args.cmd}")
    if args.cmd == "set":
        print(f"saved; they apply from the next deploy or `./renderlite redeploy {args.service}` "
              f"({svc['name']} is {svc['status']} now)")
    elif args.cmd == "rename":
        print(f"{svc['name']} now answers at {svc['url'] or svc['subdomain'] + ' (once deployed)'}")
    else:
        print(f"{svc['name']}: {svc['status']}  {svc['url'] or ''}".rstrip())
    return 0


def cmd_deployments(args, s):
    """`deployments S`: the service's deployment history, newest first."""
    print(f"{'#':6} {'STATUS':8} {'COMMIT':16} {'CREATED (UTC)':19}  {'SECS':>6}  REASON")
    for d in Api(s).get(f"/api/services/{seg(args.service)}/deployments"):
        what = (f"rollback to #{d['rollback_of']}" if d["rollback_of"] else
                f"redeploy of #{d['redeploy_of']}" if d.get("redeploy_of") else (d["commit_sha"] or "")[:7])
        why = " ".join((d["failure_reason"] or "").split())   # one row per deployment: the reason on one line
        print(f"#{d['id']:<5} {d['status']:8} {what:16} {(d['created_at'] or '')[:19].replace('T', ' ')}  "
              f"{d['duration_s'] if d['duration_s'] is not None else '':>6}  {why[:100]}".rstrip())
    return 0


def cmd_cancel(args, s):
    """`cancel N` (a deployment) or `cancel S` (the service's unfinished deployment)."""
    api = Api(s)
    target = args.target
    if not target.isdigit():
        running = [d for d in api.get(f"/api/services/{seg(target)}/deployments") if d["status"] in ("QUEUED", "BUILDING")]
        if not running:
            raise ApiError(f"service '{target}' has no queued or running deployment to cancel")
        target = str(running[0]["id"])
    r = api.post(f"/api/deployments/{seg(target)}/cancel")
    print(f"deployment #{r['id']}: {r['status']}")
    return 0


def cmd_env(args, s):
    api = Api(s)
    base = f"/api/services/{seg(args.service)}/env"
    if args.action == "list":
        for row in api.get(base):
            value = api.get(f"{base}/{seg(row['key'])}/reveal")["value"] if args.reveal else row["value"]
            print(f"{row['key']}={value}")
        return 0
    if args.action == "unset":
        present = {row["key"] for row in api.get(base)}
        missing = [k for k in args.pairs if k not in present]
        if missing:   # all or nothing, like env set
            raise ApiError(f"service '{args.service}' has no variable {', '.join(missing)}; nothing was removed")
        for key in args.pairs:
            api.call("DELETE", f"{base}/{seg(key)}")
            print(f"unset {key}")
        return 0
    values = [env_pair(pair) for pair in args.pairs]   # all checked before any is saved
    for key, value in values:
        api.call("PUT", f"{base}/{seg(key)}", json={"value": value})
        print(f"set {key} (takes effect at the next deploy; `./renderlite redeploy {args.service}` applies it now)")
    return 0


def env_pair(pair: str) -> tuple[str, str]:
    """KEY=VALUE; KEY=@path reads the value from a file; KEY=@@text is the literal value @text."""
    from control.envvars import validate_key
    from core.errors import ValidationError

    if "=" not in pair:
        raise ApiError(f"{pair!r} is not KEY=VALUE; to read a value from a file use KEY=@path")
    key, value = pair.split("=", 1)
    try:
        validate_key(key)
    except ValidationError as e:
        raise ApiError(f"{e}; nothing was saved") from None
    if value.startswith("@@"):
        return key, value[1:]
    if value.startswith("@") and len(value) > 1:
        try:
            with open(value[1:], encoding="utf-8") as f:
                return key, f.read()
        except FileNotFoundError:
            raise ApiError(f"{key}=@{value[1:]}: no such file ({key}=@path reads a file); for a value that starts "
                           f"with @, write {key}=@{value}; nothing was saved") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ApiError(f"{key}=@{value[1:]}: cannot read it as UTF-8 text ({type(e).__name__}); "
                           "nothing was saved") from None
    return key, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="renderlite", description="RenderLite: a self-hosted mini PaaS")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the platform (dashboard, worker, edge)")
    up.add_argument("--detach", action="store_true", help="start in the background and return")
    sub.add_parser("down", help="stop a platform started with up --detach")
    sub.add_parser("edge-watch", help="(internal) keep statuses and routes in sync with Docker")
    sub.add_parser("supervise", help="(internal) run and restart the platform's processes (started by up)")
    sub.add_parser("migrate", help="apply database migrations")
    adm = sub.add_parser("admin", help="administration")
    adm.add_argument("action", choices=["base-images", "token", "rotate-key"])
    ev = sub.add_parser("env", help="environment variables: env set S KEY=VALUE... | env unset S KEY... | env list S")
    ev.add_argument("action", choices=["set", "unset", "list"])
    ev.add_argument("service")
    ev.add_argument("pairs", nargs="*")
    ev.add_argument("--reveal", action="store_true", help="list: show the values")

    pr = sub.add_parser("projects", help="list, create or delete projects (a project is deleted once it has no services)")
    pr.add_argument("action", choices=["create", "list", "delete"])
    pr.add_argument("name", nargs="?")

    sv = sub.add_parser("services", help="list or create services")
    sv.add_argument("action", choices=["create", "list"])
    sv.add_argument("--project")
    sv.add_argument("--name")
    sv.add_argument("--repo")
    sv.add_argument("--branch", default="main")
    sv.add_argument("--root-dir", default="")
    sv.add_argument("--dockerfile", default="Dockerfile")
    sv.add_argument("--port", type=int, default=None)
    sv.add_argument("--subdomain", default=None)
    sv.add_argument("--builder", default="auto", choices=["auto", "dockerfile", "nixpacks"],
                    help="auto: the Dockerfile if the repository has one, else a zero-config build")
    sv.add_argument("--build-command", default=None, help="overrides the detected build command")
    sv.add_argument("--start-command", default=None, help="overrides the detected start command")

    dp = sub.add_parser("deploy", help="deploy a service")
    dp.add_argument("service")
    dp.add_argument("--wait", action="store_true", help="follow the build log; exit 0 only on SUCCESS")
    dp.add_argument("--quiet", action="store_true")
    rb = sub.add_parser("rollback", help="redeploy an earlier deployment's image (the previous one by default)")
    rb.add_argument("service")
    rb.add_argument("--to", type=int, default=None, help="the deployment number to roll back to")
    rb.add_argument("--wait", action="store_true", help="follow the log; exit 0 only on SUCCESS")
    rb.add_argument("--quiet", action="store_true")
    rd = sub.add_parser("redeploy", help="replace the live container with a new one of the same image, with today's "
                                         "settings and environment variables, without downtime (no clone or build)")
    rd.add_argument("service")
    rd.add_argument("--wait", action="store_true", help="follow the log; exit 0 only on SUCCESS")
    rd.add_argument("--quiet", action="store_true")
    st = sub.add_parser("status", help="status and URL of a service")
    st.add_argument("service")
    lg = sub.add_parser("logs", help="runtime logs of a service (or --build for the latest build log)")
    lg.add_argument("service")
    lg.add_argument("--build", action="store_true")

    cn = sub.add_parser("cancel", help="cancel a queued or running deployment (its number, or a service name)")
    cn.add_argument("target")
    dl = sub.add_parser("deployments", help="a service's deployment history")
    dl.add_argument("service")
    for action in ("stop", "start", "restart", "delete"):
        sub.add_parser(action, help=f"{action} a service").add_argument("service")
    rn = sub.add_parser("rename", help="change a service's subdomain")
    rn.add_argument("service")
    rn.add_argument("subdomain")
    from control.service_settings import SETTINGS
    se = sub.add_parser("set", help="change service settings: KEY=VALUE ... (" + ", ".join(SETTINGS) + "); "
                                    "an empty value resets one to its default")
    se.add_argument("service")
    se.add_argument("settings", nargs="+")

    args = ap.parse_args(argv)
    try:
        s = Settings.from_env()
        if args.cmd == "up":
            from cli.up import up
            return up(s, detach=args.detach)
        if args.cmd == "down":
            from cli.up import down
            return down(s)
        if args.cmd == "supervise":
            from cli.supervisor import main as supervise
            return supervise(s)
        if args.cmd == "edge-watch":
            from cli.edge_watch import edge_watch
            return edge_watch(s)
        if args.cmd == "migrate":
            from models.db import migrate
            migrate(s)
            return 0
        if args.cmd == "admin":
            if args.action == "rotate-key":
                import os

                from control.envvars import rotate_key
                from models.db import make_engine, session
                with session(make_engine(s)) as db:
                    n = rotate_key(db, s, os.environ.get("RENDERLITE_NEW_SECRET_KEY"))
                print(f"re-encrypted {n} variable(s) under the new key")
                return 0
            if args.action == "token":
                from control.auth import ensure_token
                print(ensure_token(s))
                return 0
            import docker
            from jobs.base_images import ensure_all
            print(ensure_all(docker.from_env(timeout=600)))
            return 0
        if args.cmd == "projects" and args.action in ("create", "delete") and not args.name:
            ap.error(f"projects {args.action} needs a NAME")
        if args.cmd == "services" and args.action == "create" and not (args.project and args.name and args.repo):
            ap.error("services create needs --project, --name and --repo")
        handler = {"projects": cmd_projects, "services": cmd_services, "deploy": cmd_deploy, "rollback": cmd_deploy, "redeploy": cmd_deploy,
                   "status": cmd_status, "logs": cmd_logs, "stop": cmd_lifecycle, "start": cmd_lifecycle,
                   "restart": cmd_lifecycle, "delete": cmd_lifecycle, "rename": cmd_lifecycle,
                   "set": cmd_lifecycle, "env": cmd_env, "deployments": cmd_deployments,
                   "cancel": cmd_cancel}[args.cmd]
        return handler(args, s) or 0
    except BrokenPipeError:
        raise
    except (ApiError, SettingsError, RenderLiteError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:   # `./renderlite deployments x | head`
        sys.stderr.close()
        sys.exit(0)
