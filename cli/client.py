"""A small client for the /api routes, used by the CLI commands."""
from __future__ import annotations

from urllib.parse import quote

import httpx

from control import auth
from core.settings import Settings


class ApiError(Exception):
    pass


def seg(value) -> str:
    """One path segment from user input: quoted whole, so `../../other` cannot become another route
    (found in review: `env unset web ../../other` deleted the service `other`)."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ApiError(f"{text!r} is not a valid name here")
    return quote(text, safe="")


class Api:
    def __init__(self, settings: Settings, token: str | None = None):
        self.base = settings.web_url
        self.token = token or auth.read_token(settings)
        if not self.token:
            raise ApiError(f"no admin token at {settings.token_file}; start the platform with `./renderlite up` first")

    def call(self, method: str, path: str, **kw):
        try:
            r = httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"},
                              timeout=30, **kw)
        except httpx.ConnectError:
            raise ApiError(f"RenderLite is not answering at {self.base}; start it with `./renderlite up`") from None
        try:
            data = r.json()
        except ValueError:
            data = {"error": r.text[:300]}
        if r.status_code >= 400:
            raise ApiError(data.get("error") if isinstance(data, dict) else str(data))
        return data

    def get(self, path: str, **params):
        return self.call("GET", path, params=params)

    def post(self, path: str, body: dict | None = None):
        return self.call("POST", path, json=body or {})
