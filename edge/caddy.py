"""Caddy as the local edge, driven through its admin API.

Caddy's configuration does not depend on which apps run: it is built from settings alone. One
route sends ``*.<domain>`` to the container that DNS names for the subdomain (SRV lookup of
``<subdomain>.<instance>.rl.internal`` against the edge agent, cached for a quarter of a second), and
errors (no running container, a container that does not answer) are answered by the agent's
status page. So deploys, stops and renames never reload Caddy, and a reload (which in Caddy 2.6
closes upgraded connections such as WebSockets) happens only when settings change.
"""
from __future__ import annotations

import json
import logging

import httpx

from core.settings import Settings
from edge import dns

log = logging.getLogger("renderlite.edge")
REFRESH_S = 0.25   # how long Caddy caches a DNS answer: a switch reaches every new request within this


def config(s: Settings) -> dict:
    """Pure: the whole Caddy config for these settings."""
    subdomain_label = len(s.domain.split("."))   # {http.request.host.labels.N}: labels counted from the right
    resolver = {"addresses": [f"udp/{s.edge_agent}"]}
    to_app = {
        "handler": "reverse_proxy",
        "dynamic_upstreams": {"source": "srv", "refresh": f"{REFRESH_S:g}s", "resolver": resolver,
                              "name": f"{{http.request.host.labels.{subdomain_label}}}.{s.instance}.{dns.ZONE}."},
        "transport": {"protocol": "http", "resolver": resolver, "dial_timeout": "2s"},
    }
    to_agent = {"handler": "reverse_proxy", "upstreams": [{"dial": s.edge_agent}],
                "headers": {"request": {"set": {"X-Renderlite-Edge-Error": ["{http.error.status_code}"]}}}}
    return {
        "admin": {"listen": s.caddy_admin},
        "logging": {"logs": {"default": {"level": "WARN"}}},
        "apps": {"http": {"servers": {"renderlite": {
            "listen": [f":{s.edge_port}"],
            "automatic_https": {"disable": True},
            "routes": [
                {"match": [{"host": [f"*.{s.domain}"]}], "handle": [to_app], "terminal": True},
                {"handle": [to_agent]},   # any other host: the agent's 404 page
            ],
            "errors": {"routes": [{"handle": [to_agent]}]},
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


def ensure(cfg: dict, admin: str) -> bool:
    """Load ``cfg`` unless Caddy already runs it (after a restart it may not). True if loaded."""
    if current(admin) == cfg:
        return False
    load(cfg, admin)
    log.info("edge: Caddy configuration loaded")
    return True
