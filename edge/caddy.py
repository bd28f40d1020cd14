"""Caddy as the local edge, driven through its admin API. The whole config is rebuilt from the
route table and loaded at once; Caddy validates it and keeps the old one if it is refused."""
from __future__ import annotations

import json
import logging

import httpx

from edge.routes import Route

log = logging.getLogger("renderlite.edge")


def config(routes: list[Route], edge_port: int, admin: str) -> dict:
    handlers = []
    for r in routes:
        if r.upstream:
            handle = [{"handler": "reverse_proxy", "upstreams": [{"dial": r.upstream}],
                       }]
        else:
            handle = [{"handler": "static_response", "status_code": 503,
                       "headers": {"Content-Type": ["text/plain; charset=utf-8"], "Retry-After": ["5"]},
                       "body": f"Service '{r.service}' is not running right now (no healthy container). "
                               "Check its status and logs in the RenderLite dashboard.\n"}]
        handlers.append({"match": [{"host": [r.host]}], "handle": handle, "terminal": True})
    handlers.append({"handle": [{"handler": "static_response", "status_code": 404,
                                 "headers": {"Content-Type": ["text/plain; charset=utf-8"]},
                                 "body": "No RenderLite service answers at this address.\n"}]})
    return {
        "admin": {"listen": admin},
        "apps": {"http": {"servers": {"renderlite": {
            "listen": [f":{edge_port}"],
            "automatic_https": {"disable": True},
            "routes": handlers,
        }}}},
    }


def load(cfg: dict, admin: str) -> None:
    """POST the config to Caddy's /load. Raises httpx.HTTPError if Caddy refuses it."""
    resp = httpx.post(f"http://{admin}/load", content=json.dumps(cfg),
                      headers={"Content-Type": "application/json"}, timeout=10)
    if resp.status_code >= 400:
        raise httpx.HTTPStatusError(f"Caddy refused the config: {resp.text.strip()}",
                                    request=resp.request, response=resp)


def current(admin: str) -> dict | None:
    try:
        return httpx.get(f"http://{admin}/config/", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
