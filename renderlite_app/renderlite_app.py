"""The web process: the Reflex dashboard plus the JSON API (/api/*) on one port.

Run in production with `reflex run --env prod` (see rxconfig.py for the port).
"""
from __future__ import annotations

import reflex as rx

from renderlite_app.api import make_api
from renderlite_app.pages.login import login
from renderlite_app.pages.project import project
from renderlite_app.pages.projects import projects
from renderlite_app.pages.service import service
from renderlite_app.service_actions import ServiceActions
from renderlite_app.state import AuthState, ProjectsState, ProjectState, ServiceState, platform

# The platform is built once for this process (clients connect lazily, on first use)
# and shared with the event handlers through renderlite_app.state.platform().
app = rx.App(api_transformer=make_api(platform()))

app.add_page(login, route="/login", title="RenderLite - sign in", on_load=AuthState.login_load)
app.add_page(projects, route="/", title="RenderLite - projects", on_load=ProjectsState.load)
app.add_page(project, route="/projects/[name]", title="RenderLite - project", on_load=ProjectState.load)
app.add_page(service, route="/services/[name]", title="RenderLite - service",
             on_load=[ServiceState.load, ServiceActions.load_env])
