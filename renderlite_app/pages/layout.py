"""Shared page chrome: header, error callout, status badges, log boxes."""
from __future__ import annotations

import reflex as rx

from renderlite_app.state import AuthState

_BADGE_COLORS = (
    ("SUCCESS", "green"), ("running", "green"),
    ("FAILED", "red"), ("failed", "red"), ("crashed", "red"), ("unhealthy", "orange"),
    ("BUILDING", "amber"), ("building", "amber"),
    ("QUEUED", "blue"),
)


def status_badge(status, **props) -> rx.Component:
    return rx.badge(status, color_scheme=rx.match(status, *_BADGE_COLORS, "gray"), variant="soft", **props)


def error_callout() -> rx.Component:
    return rx.cond(
        AuthState.error != "",
        rx.callout(AuthState.error, icon="triangle_alert", color_scheme="red", role="alert",
                   id="error-message", width="100%"),
    )


def log_box(text, box_id: str, empty: str) -> rx.Component:
    # column-reverse keeps the box scrolled to its end while lines arrive (unless the reader scrolls up)
    return rx.el.div(
        rx.el.pre(rx.cond(text != "", text, empty), id=box_id,
                  style={"white_space": "pre-wrap", "word_break": "break-all", "margin": "0"}),
        style={"background": "var(--gray-2)", "border": "1px solid var(--gray-5)", "border_radius": "6px",
               "padding": "0.75em", "font_size": "12px", "line_height": "1.45", "max_height": "420px",
               "overflow": "auto", "width": "100%", "display": "flex", "flex_direction": "column-reverse"},
    )


def field(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%")


def shell(*children, crumbs: list[rx.Component] | None = None) -> rx.Component:
    """Page frame with a header; children are laid out in a column."""
    header = rx.hstack(
        rx.link(rx.heading("RenderLite", size="6"), href="/", underline="none"),
        *(crumbs or []),
        rx.spacer(),
        rx.cond(AuthState.authed, rx.button("Log out", variant="soft", size="1", on_click=AuthState.logout,
                                            id="logout-button")),
        align="center", width="100%", spacing="3",
    )
    return rx.container(
        rx.vstack(header, rx.divider(), error_callout(), *children, spacing="4", width="100%"),
        size="3", padding_y="1.5em",
    )
