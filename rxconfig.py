"""Reflex configuration for the RenderLite dashboard.

`reflex run --env prod` serves the compiled frontend, the Reflex event websocket and
the JSON API (/api/*) from ONE process on ONE port: RENDERLITE_WEB_PORT (default 3000).
Frontend and backend ports are therefore the same, and the browser reaches the
backend on the host it loaded the page from (Reflex swaps "localhost" in api_url
for window.location.hostname; behind an https proxy it also drops the port).
Set REFLEX_API_URL to override when a proxy exposes the dashboard elsewhere.
"""
import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from core.settings import Settings

_settings = Settings.from_env()

config = rx.Config(
    app_name="renderlite_app",
    telemetry_enabled=False,
    frontend_port=_settings.web_port,
    backend_port=_settings.web_port,
    api_url=f"http://localhost:{_settings.web_port}",
    deploy_url=f"http://localhost:{_settings.web_port}",
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    # A private admin dashboard: no sitemap, no badge, no Tailwind.
    disable_plugins=[SitemapPlugin],
    show_built_with_reflex=False,
    # Session state lives in this one web process's memory (one worker, nothing
    # written to disk), so backend-only vars such as the admin token never leave
    # the server; a restart simply asks for the token again.
    state_manager_mode="memory",
)
