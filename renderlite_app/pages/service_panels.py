"""Service page panels: actions, settings and environment variables."""
from __future__ import annotations

import reflex as rx

from renderlite_app.pages.layout import field
from renderlite_app.service_actions import ServiceActions as A

S = A.service


def _busy_button(label: str, action: str, on_click=None, **props) -> rx.Component:
    return rx.button(rx.cond(A.busy == action, rx.spinner(size="1"), rx.fragment()), label,
                     on_click=on_click or A.act(action), disabled=A.busy != "", id=f"{action}-button", **props)


def action_bar() -> rx.Component:
    return rx.hstack(
        rx.cond(S["status"] == "stopped", _busy_button("Start", "start", variant="soft"),
                _busy_button("Stop", "stop", variant="soft", color_scheme="gray")),
        _busy_button("Restart", "restart", variant="soft"),
        rx.tooltip(_busy_button("Redeploy", "redeploy", on_click=A.redeploy, variant="soft"),
                   content="A new container of the live image with today's settings and variables, "
                           "switched without downtime (no build)"),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button("Delete", color_scheme="red", variant="soft", id="delete-button",
                                              on_click=A.ask_delete(True), disabled=A.busy != "")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Delete this service?"),
                rx.alert_dialog.description(
                    "Its containers, images, route, deployments and environment variables are removed. "
                    "This cannot be undone."),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", on_click=A.ask_delete(False))),
                    rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=A.delete,
                                                     id="confirm-delete-button")),
                    spacing="3", justify="end", margin_top="1em"),
            ),
            open=A.confirm_delete,
        ),
        spacing="2",
    )


def notice() -> rx.Component:
    return rx.cond(A.notice != "", rx.callout(A.notice, icon="info", color_scheme="green", id="notice",
                                              width="100%"))


def _input(name: str, label: str, placeholder: str = "") -> rx.Component:
    # Uncontrolled inputs keyed on the saved value: they show it, and reset when it changes.
    return field(label, rx.input(name=name, id=f"setting-{name}", default_value=S[name], key=S[name],
                                 placeholder=placeholder))


def settings_panel() -> rx.Component:
    return rx.card(rx.form(
        rx.vstack(
            rx.heading("Settings", size="4"),
            rx.grid(
                _input("subdomain", "Subdomain"),
                _input("branch", "Branch"),
                _input("root_dir", "Root directory", "(repository root)"),
                _input("dockerfile_path", "Dockerfile path"),
                _input("port", "Port", "auto"),
                field("Builder", rx.select(["auto", "dockerfile", "nixpacks"], name="builder", id="setting-builder",
                                           default_value=S["builder"], key=S["builder"])),
                _input("build_command", "Build command", "(detected)"),
                _input("start_command", "Start command", "(detected)"),
                field("Health check", rx.select(["http", "tcp"], name="health_type", id="setting-health_type",
                                                default_value=S["health_type"], key=S["health_type"])),
                _input("health_path", "Health check path", "(any answer on /)"),
                _input("health_start_period", "Health start period (s)", "(installation default)"),
                _input("health_interval", "Health check interval (s)", "5"),
                _input("health_retries", "Failures before unhealthy", "3"),
                field("Clone submodules", rx.select(["off", "on"], name="submodules", id="setting-submodules",
                                                    default_value=rx.cond(S["submodules"] == "True", "on", "off"),
                                                    key=S["submodules"])),
                _input("memory_mb", "Memory limit (MB)", "(installation default)"),
                _input("cpus", "CPU limit", "(installation default)"),
                _input("pids", "Process limit", "(installation default)"),
                columns="2", spacing="3", width="100%",
            ),
            rx.hstack(rx.button("Save settings", type="submit", id="save-settings-button", disabled=A.busy != ""),
                      rx.cond(A.error != "", rx.text(A.error, color_scheme="red", size="2", id="settings-error")),
                      align="center", spacing="3"),
            spacing="3", width="100%",
        ),
        on_submit=A.save_settings,
    ), width="100%")


def _env_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(r["key"])),
        rx.table.cell(rx.el.pre(r["value"], style={"margin": "0", "white_space": "pre-wrap",
                                                   "word_break": "break-all"}, class_name="env-value")),
        rx.table.cell(rx.hstack(
            rx.cond(r["shown"] == "", rx.button("Reveal", size="1", variant="ghost", on_click=A.reveal_env(r["key"]))),
            rx.button("Remove", size="1", variant="ghost", color_scheme="red", on_click=A.unset_env(r["key"])),
            spacing="2")),
    )


def env_panel() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading("Environment", size="4"),
        rx.text("Encrypted at rest; values stay hidden until revealed. Given to the app when it runs (not to "
                "the build); changes apply at the next deploy.",
                size="2", color_scheme="gray"),
        rx.cond(A.env.length() > 0,
                rx.table.root(rx.table.body(rx.foreach(A.env, _env_row)), width="100%", id="env-table", size="1"),
                rx.text("No variables.", color_scheme="gray", size="2")),
        rx.form(rx.hstack(
            rx.input(name="key", id="env-key-input", placeholder="NAME", width="14em"),
            rx.text_area(name="value", id="env-value-input", placeholder="value (multi-line allowed)", rows="1",
                         width="100%"),
            rx.button("Set", type="submit", id="env-set-button"),
            width="100%", align="start"),
            on_submit=A.set_env, reset_on_submit=True, width="100%"),
        spacing="3", width="100%",
    ), width="100%")
