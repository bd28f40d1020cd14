"""Typed errors. Each message names the cause and the next step; the edges
(API routes, dashboard events, CLI) turn them into status codes and toasts."""
from __future__ import annotations


class RenderLiteError(Exception):
    """Base of every error a user may see."""


class ValidationError(RenderLiteError):
    """Input rejected when saved (bad URL, bad name, ...)."""


class NotFound(RenderLiteError):
    pass


class DeployError(RenderLiteError):
    """A deployment failed at a stage; ``stage`` is clone, build, run or route."""

    stage = "deploy"


class CloneError(DeployError):
    stage = "clone"


class BuildError(DeployError):
    stage = "build"


class StartError(DeployError):
    """The container did not start or never answered its health check."""

    stage = "run"


class Cancelled(DeployError):
    stage = "cancelled"
