"""One project: its services and the create-service form."""
from __future__ import annotations

import reflex as rx

from renderlite_app.pages.layout import field, shell, status_badge
from renderlite_app.state import ProjectState


def _row(s) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(s["name"], href="/services/" + s["name"])),
        rx.table.cell(status_badge(s["status"])),
        rx.table.cell(rx.cond(s["url"] != "", rx.link(s["url"], href=s["url"], is_external=True),
                              rx.text("not live yet", color_scheme="gray"))),
        rx.table.cell(rx.code(s["repo_url"]), " @ ", s["branch"]),
    )


def _services_table() -> rx.Component:
    return rx.cond(
        ProjectState.services.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Service"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("Live URL"),
                rx.table.column_header_cell("Repository"),
            )),
            rx.table.body(rx.foreach(ProjectState.services, _row)),
            width="100%", id="services-table",
        ),
        rx.text("No services yet. Create one below.", color_scheme="gray"),
    )


def _create_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("New service", size="4"),
                rx.grid(
                    field("Name", rx.input(name="name", id="service-name-input", placeholder="web")),
                    field("Repository URL", rx.input(name="repo_url", id="repo-url-input",
                                                     placeholder="https://github.com/owner/repo.git")),
                    field("Branch", rx.input(name="branch", id="branch-input", default_value="main")),
                    field("Root directory", rx.input(name="root_dir", id="root-dir-input",
                                                     placeholder="(repository root)")),
                    field("Dockerfile path", rx.input(name="dockerfile_path", id="dockerfile-input",
                                                      default_value="Dockerfile")),
                    field("Port", rx.input(name="port", id="port-input", placeholder="auto (EXPOSE, or the port it listens on)",
                                           input_mode="numeric")),
                    columns="2", spacing="3", width="100%",
                ),
                rx.button("Create service", type="submit", id="create-service-button"),
                spacing="3", width="100%",
            ),
            on_submit=ProjectState.create,
        ),
        width="100%",
    )


def project() -> rx.Component:
    return shell(
        rx.heading(rx.text.span("Project "), rx.code(ProjectState.project_name), size="5"),
        _services_table(),
        rx.cond(ProjectState.project_name != "", _create_form()),
        rx.cond((ProjectState.project_name != "") & (ProjectState.services.length() == 0),
                rx.button("Delete this empty project", color_scheme="red", variant="soft", id="delete-project-button",
                          on_click=ProjectState.delete)),
        crumbs=[rx.text("/"), rx.link("Projects", href="/")],
    )
