"""Projects list and the create-project form."""
from __future__ import annotations

import reflex as rx

from renderlite_app.pages.layout import shell
from renderlite_app.state import ProjectsState


def _row(p) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(p["name"], href="/projects/" + p["name"])),
        rx.table.cell(p["services"]),
        rx.table.cell(p["created"]),
    )


def projects() -> rx.Component:
    return shell(
        rx.heading("Projects", size="5"),
        rx.form(
            rx.hstack(
                rx.input(name="name", id="project-name-input", placeholder="new project name, e.g. my-shop",
                         width="20em"),
                rx.button("Create project", type="submit", id="create-project-button"),
                spacing="2",
            ),
            on_submit=ProjectsState.create,
        ),
        rx.cond(
            ProjectsState.projects.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Project"),
                    rx.table.column_header_cell("Services"),
                    rx.table.column_header_cell("Created"),
                )),
                rx.table.body(rx.foreach(ProjectsState.projects, _row)),
                width="100%", id="projects-table",
            ),
            rx.text("No projects yet. Create one above.", color_scheme="gray"),
        ),
    )
