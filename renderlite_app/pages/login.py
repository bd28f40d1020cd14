"""Login: the admin token is posted once and kept only in a backend var."""
from __future__ import annotations

import reflex as rx

from renderlite_app.pages.layout import shell
from renderlite_app.state import AuthState


def login() -> rx.Component:
    return shell(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sign in", size="5"),
                    rx.text("Paste the admin token printed by ", rx.code("./renderlite up"), ".", size="2",
                            color_scheme="gray"),
                    # Uncontrolled input: its value is read from the submitted form, never stored in a
                    # state var that is sent back to the browser.
                    rx.input(name="token", id="token-input", type="password", placeholder="rl_...",
                             auto_complete="off", width="100%", required=True),
                    rx.button("Log in", type="submit", id="login-button"),
                    spacing="3", width="100%",
                ),
                on_submit=AuthState.login,
                reset_on_submit=True,
            ),
            max_width="28em", width="100%",
        ),
    )
