"""The tables. Schema changes go through Alembic (migrations/)."""
from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(t: datetime | None) -> datetime | None:
    """A timestamp read back from the database (naive on SQLite and in `timestamp` columns) as UTC."""
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


class ServiceStatus(str, Enum):
    CREATED = "created"
    BUILDING = "building"
    RUNNING = "running"
    FAILED = "failed"
    STOPPED = "stopped"
    CRASHED = "crashed"
    UNHEALTHY = "unhealthy"     # running, but failing its health check


class DeploymentStatus(str, Enum):
    QUEUED = "QUEUED"
    BUILDING = "BUILDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (DeploymentStatus.SUCCESS, DeploymentStatus.FAILED)


class User(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    email: Optional[str] = Field(default=None, index=True)
    github_id: Optional[int] = Field(default=None, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class Project(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Service(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(unique=True, index=True)
    repo_url: str
    branch: str = "main"
    root_dir: str = ""
    dockerfile_path: str = "Dockerfile"
    runtime: str = ""                      # what the latest build was made as (dockerfile, node, python, ...)
    subdomain: str = Field(unique=True, index=True)
    container_port: Optional[int] = None   # None: use the image's EXPOSE, else the one port the app listens on
    status: str = ServiceStatus.CREATED.value
    live_deployment_id: Optional[int] = None
    status_detail: Optional[str] = None
    health_type: str = "http"
    health_path: str = ""
    health_interval: float = 5.0       # seconds between checks of a running app
    health_timeout: float = 2.0
    health_start_period: Optional[float] = None
    health_retries: int = 3
    builder: str = "auto"                  # auto (Dockerfile if present, else zero-config) | dockerfile | nixpacks
    build_command: Optional[str] = None
    start_command: Optional[str] = None
    submodules: bool = False
    memory_mb: Optional[int] = None        # None: the installation's default (RENDERLITE_APP_MEMORY_MB)
    cpus: Optional[float] = None
    pids: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow)


REDEPLOY = "redeploy"   # Deployment.kind of a redeploy of the live image


class Deployment(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True)
    status: str = DeploymentStatus.QUEUED.value
    commit_sha: Optional[str] = None
    image_tag: Optional[str] = None
    container_id: Optional[str] = None
    failure_stage: Optional[str] = None
    failure_reason: Optional[str] = None
    log: str = ""
    source_deployment_id: Optional[int] = None   # a rollback or redeploy: reuse that deployment's image
    kind: Optional[str] = None                   # "redeploy" (the live image, chosen when it runs); else a build
                                                 # (no source) or a rollback (a source)
    image_origin_id: Optional[int] = None        # the deployment whose build made its image (itself for a build)
    build_plan: Optional[str] = None             # the Dockerfile RenderLite generated (zero-config builds)
    port: Optional[int] = None                   # the port the edge routes to
    runs_as_root: Optional[bool] = None
    health: Optional[str] = None                 # the health check it was deployed with (JSON HealthSpec)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class EnvVar(SQLModel, table=True):
    """One environment variable of a service; ``value_enc`` is AES-256-GCM ciphertext."""
    __table_args__ = (UniqueConstraint("service_id", "key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True)
    key: str
    value_enc: str
    updated_at: datetime = Field(default_factory=utcnow)
