"""Projects and services: create, list, look up."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.errors import NotFound, ValidationError
from models import validation as v
from models.tables import Deployment, Project, Service


def create_project(db: Session, name: str) -> Project:
    name = v.name(name, "project name")
    if db.exec(select(Project).where(Project.name == name)).first():
        raise ValidationError(f"a project named '{name}' already exists; pick another name")
    p = Project(name=name)
    db.add(p)
    db.commit()
    db.refresh(p)
    return p


def delete_project(db: Session, ref: str | int) -> str:
    """Delete an empty project (``ref`` as for get_project). One that still has services is refused, naming them: deleting a
    service stops its app and removes its images, which a project delete must not do by surprise."""
    p = get_project(db, ref)
    names = [x.name for x in db.exec(select(Service).where(Service.project_id == p.id).order_by(Service.name)).all()]
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ValidationError(f"project '{p.name}' still has {len(names)} service(s) ({shown}); delete them first "
                              "(`./renderlite delete <service>`, or Delete on the service's page), then the project")
    db.delete(p)
    try:
        db.commit()
    except IntegrityError:   # a service was created in it meanwhile
        db.rollback()
        raise ValidationError(f"project '{p.name}' got a service meanwhile; delete that first, then the project") from None
    return p.name


def list_projects(db: Session) -> list[Project]:
    return list(db.exec(select(Project).order_by(Project.name)).all())


def _by_ref(db: Session, table, ref: str | int):
    """An int is an id, and only an id. A string is a name first (names may be all digits), then
    an id: so a row named "7" is never taken for the row whose id is 7 by a caller that holds an
    id (found in review: the dashboard passed ids, and a digit name shadowed them)."""
    if isinstance(ref, int):
        return db.get(table, ref)
    row = db.exec(select(table).where(table.name == str(ref).strip().lower())).first()
    if row is None and str(ref).isdigit():
        row = db.get(table, int(ref))
    return row


def get_project(db: Session, ref: str | int) -> Project:
    p = _by_ref(db, Project, ref)
    if not p:
        raise NotFound(f"project '{ref}' not found; list projects with `./renderlite projects list`")
    return p


@dataclass
class ServiceInput:
    project: str | int                    # a name (or an id as text) from the API; an id from the dashboard
    name: str
    repo_url: str
    branch: str = "main"
    root_dir: str = ""
    dockerfile_path: str = "Dockerfile"
    port: int | str | None = None
    subdomain: str | None = None
    builder: str = "auto"                 # auto | dockerfile | nixpacks
    build_command: str | None = None
    start_command: str | None = None


def create_service(db: Session, data: ServiceInput) -> Service:
    project = get_project(db, data.project)
    name = v.name(data.name, "service name")
    subdomain = v.name(data.subdomain or name, "subdomain")
    fields = dict(
        repo_url=v.repo_url(data.repo_url), branch=v.branch(data.branch),
        root_dir=v.relative_path(data.root_dir, "root directory"),
        dockerfile_path=v.relative_path(data.dockerfile_path or "Dockerfile", "Dockerfile path") or "Dockerfile",
        container_port=v.port(data.port),
        builder=v.choice(data.builder or "auto", v.BUILDERS, "builder"),
        build_command=v.command(data.build_command, "build command"),
        start_command=v.command(data.start_command, "start command"),
    )
    if db.exec(select(Service).where(Service.name == name)).first():
        raise ValidationError(f"a service named '{name}' already exists; pick another name")
    if db.exec(select(Service).where(Service.subdomain == subdomain)).first():
        raise ValidationError(f"subdomain '{subdomain}' is taken by another service; pick another")
    s = Service(project_id=project.id, name=name, subdomain=subdomain, **fields)
    db.add(s)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ValidationError(f"service '{name}' or subdomain '{subdomain}' already exists") from None
    db.refresh(s)
    return s


def list_services(db: Session, project: str | int | None = None) -> list[Service]:
    q = select(Service).order_by(Service.name)
    if project is not None and project != "":
        q = q.where(Service.project_id == get_project(db, project).id)
    return list(db.exec(q).all())


def get_service(db: Session, ref: str | int) -> Service:
    s = _by_ref(db, Service, ref)
    if not s:
        raise NotFound(f"service '{ref}' not found; list services with `./renderlite services list`")
    return s


def list_deployments(db: Session, service_id: int, limit: int = 50) -> list[Deployment]:
    return list(db.exec(select(Deployment).where(Deployment.service_id == service_id)
                        .order_by(Deployment.id.desc()).limit(limit)).all())


def get_deployment(db: Session, deployment_id: int) -> Deployment:
    d = db.get(Deployment, deployment_id)
    if not d:
        raise NotFound(f"deployment {deployment_id} not found")
    return d
