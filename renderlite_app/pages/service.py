"""One service: details, Deploy, deployments and the live build log."""
from __future__ import annotations

import reflex as rx

from renderlite_app.pages.layout import log_box, shell, status_badge
from renderlite_app.pages.service_panels import action_bar, env_panel, notice, settings_panel
from renderlite_app.service_actions import ServiceActions
from renderlite_app.state import ServiceState

S = ServiceState.service


def _detail(label: str, value) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def _details() -> rx.Component:
    return rx.data_list.root(
        _detail("Status", rx.hstack(status_badge(S["status"], id="service-status"),
                                    rx.text(S["detail"], size="2", color_scheme="gray"), align="center")),
        _detail("Live URL", rx.cond(
            S["url"] != "",
            rx.link(S["url"], href=S["url"], is_external=True, id="live-url"),
            rx.text("not live yet; deploy it", color_scheme="gray"))),
        _detail("Repository", rx.code(S["repo_url"])),
        _detail("Branch", S["branch"]),
        _detail("Root directory", rx.cond(S["root_dir"] != "", S["root_dir"], "(repository root)")),
        _detail("Builder", rx.hstack(rx.text(S["builder"]), rx.cond(
            S["runtime"] != "", rx.badge(S["runtime"], variant="soft", id="service-runtime",
                                         title="how the latest build was made"), rx.fragment()),
            align="center", spacing="2")),
        _detail("Dockerfile", S["dockerfile_path"]),
        _detail("Port", S["port"]),
        _detail("Subdomain", S["subdomain"]),
        _detail("Latest deployment", rx.cond(
            ServiceState.latest_status != "",
            rx.text(ServiceState.latest_status, id="deployment-status", weight="bold"),
            rx.text("none yet", id="deployment-status", color_scheme="gray"))),
    )


def _dep_row(d) -> rx.Component:
    selected = ServiceState.selected_id.to_string() == d["id"]
    return rx.table.row(
        rx.table.cell(rx.button("#" + d["id"], variant="ghost", size="1", on_click=ServiceState.select(d["id"]),
                                title="show this deployment's build log")),
        rx.table.cell(status_badge(d["status"])),
        rx.table.cell(rx.cond(d["commit"] != "", rx.code(d["commit"]), "")),
        rx.table.cell(d["created"]),
        rx.table.cell(d["duration"]),
        rx.table.cell(rx.hstack(
            rx.cond(d["live"] != "", rx.badge("live", color_scheme="green")),
            rx.cond(d["kind"] != "", rx.text(d["kind"], size="1", color_scheme="gray")),
            rx.cond(d["root"] != "", rx.badge("runs as root", color_scheme="orange",
                                              title="the image's user is root; add a USER line to its Dockerfile")),
            rx.text(d["failure"], color_scheme="red", size="2"),
            rx.cond(d["can_rollback"] != "", rx.button("Roll back", size="1", variant="soft",
                                                       on_click=ServiceActions.rollback(d["id"]),
                                                       class_name="rollback-button",
                                                       title="redeploy this deployment's image")),
            spacing="2", align="center", wrap="wrap")),
        background=rx.cond(selected, "var(--accent-3)", "transparent"),
        class_name="deployment-row",
    )


def _deployments() -> rx.Component:
    return rx.cond(
        ServiceState.deployments.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Deployment", "Status", "Commit", "Created (UTC)", "Duration",
                                            "Notes")])),
            rx.table.body(rx.foreach(ServiceState.deployments, _dep_row)),
            width="100%", id="deployments-table", size="1",
        ),
        rx.text("No deployments yet.", color_scheme="gray"),
    )


def service() -> rx.Component:
    return shell(
        rx.cond(ServiceState.found, _page(), rx.text("Check the address, or pick the service from its project.",
                                                    color_scheme="gray")),
        crumbs=[rx.text("/"), rx.link("Projects", href="/"), rx.text("/"),
                rx.link(ServiceState.project_name, href="/projects/" + ServiceState.project_name)],
    )


def _page() -> rx.Component:
    return rx.fragment(
        rx.hstack(
            rx.heading(rx.text.span("Service "), rx.code(S["name"]), size="5"),
            rx.spacer(),
            action_bar(),
            rx.button("Deploy", on_click=ServiceState.deploy, id="deploy-button", size="3",
                      disabled=S["name"] == ""),
            width="100%", align="center",
        ),
        notice(),
        _details(),
        rx.heading("Deployments", size="4"),
        _deployments(),
        rx.hstack(
            rx.heading(rx.text.span("Build log "),
                       rx.cond(ServiceState.selected_id > 0, "#" + ServiceState.selected_id.to_string(), ""),
                       size="4"),
            status_badge(ServiceState.selected_status),
            rx.cond((ServiceState.selected_status == "QUEUED") | (ServiceState.selected_status == "BUILDING"),
                    rx.button("Cancel", size="1", variant="soft", color_scheme="red", id="cancel-button",
                              on_click=ServiceActions.cancel, disabled=ServiceActions.busy != "")),
            rx.cond(ServiceState.following, rx.hstack(rx.spinner(size="1"), rx.text("live", size="1"),
                                                      align="center", spacing="1")),
            align="center", spacing="3",
        ),
        log_box(ServiceState.build_log, "build-log", "(no log lines yet)"),
        rx.cond(ServiceState.build_plan != "", rx.vstack(
            rx.heading("Build plan", size="4"),
            rx.text("No Dockerfile in the repository: RenderLite generated this one (the build log says why). "
                    "Commit a Dockerfile, or set the service's build and start commands, to change it.",
                    size="2", color_scheme="gray"),
            log_box(ServiceState.build_plan, "build-plan", ""),
            spacing="2", width="100%")),
        rx.hstack(rx.heading("Runtime log", size="4"), rx.button("Refresh", size="1", variant="soft",
                                                                 on_click=ServiceState.refresh_runtime,
                                                                 id="runtime-refresh-button"),
                  align="center", spacing="3"),
        log_box(ServiceState.runtime_log, "runtime-log", "(no live container)"),
        env_panel(),
        settings_panel(),
    )
