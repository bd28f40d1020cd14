"""The settings a member may change on a service, and how each is validated (no I/O here)."""
from __future__ import annotations

from core.errors import ValidationError
from models import validation as v

# setting name -> (column, converter). An empty value resets a setting to its default.
SETTINGS = {
    "branch": ("branch", v.branch),
    "root_dir": ("root_dir", lambda r: v.relative_path(r, "root directory")),
    "dockerfile_path": ("dockerfile_path", lambda r: v.relative_path(r, "Dockerfile path") or "Dockerfile"),
    "port": ("container_port", v.port),
    "repo_url": ("repo_url", v.repo_url),
    "builder": ("builder", lambda r: v.choice(r or "auto", v.BUILDERS, "builder")),
    "build_command": ("build_command", lambda r: v.command(r, "build command")),
    "start_command": ("start_command", lambda r: v.command(r, "start command")),
    "submodules": ("submodules", v.flag),
    "health_type": ("health_type", lambda r: v.choice(r or "http", ("http", "tcp"), "health check type")),
    "health_path": ("health_path", v.health_path),
    "health_interval": ("health_interval", lambda r: v.positive(float, "health check interval", 3600, minimum=0.1)(r) or 5.0),
    "health_timeout": ("health_timeout", lambda r: v.positive(float, "health check timeout", 600, minimum=0.1)(r) or 2.0),
    "health_start_period": ("health_start_period", v.positive(float, "health check start period", 3600)),
    "health_retries": ("health_retries", lambda r: v.positive(int, "health check retries", 100)(r) or 3),
    "memory_mb": ("memory_mb", v.positive(int, "memory limit (MB)", 65536, minimum=6)),
    "cpus": ("cpus", v.positive(float, "CPU limit", 64, minimum=0.01)),
    "pids": ("pids", v.positive(int, "process limit", 100000)),
}


def columns(changes: dict) -> dict:
    """Validate ``{setting: raw value}`` into ``{column: value}``; unknown names are refused."""
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise ValidationError(f"unknown setting {unknown[0]!r}; settings are: {', '.join(SETTINGS)}")
    return {SETTINGS[k][0]: SETTINGS[k][1](raw) for k, raw in changes.items()}
