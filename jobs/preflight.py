"""Before any work: is there room to build? A build that fills the disk takes every app down
with it, so a deployment refuses to start when free space is below the installation's threshold."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from core.errors import DeployError


class DiskFull(DeployError):
    stage = "disk"


def build_paths(docker_root: str | None) -> dict[str, Path]:
    """Where a deployment writes: the clone's temporary folder and Docker's data root (when this
    process can see it; a worker in a container may only have the socket)."""
    paths = {"the temporary folder": Path(tempfile.gettempdir())}
    if docker_root and Path(docker_root).is_dir():
        paths["Docker's data root"] = Path(docker_root)
    return paths


def check_free_disk(paths: dict[str, Path], min_mb: int, usage=shutil.disk_usage) -> None:
    """Raise DiskFull naming the fullest place when any has less than ``min_mb`` free."""
    if min_mb <= 0:
        return
    for what, path in paths.items():
        free = usage(path).free / (1024 * 1024)
        if free < min_mb:
            raise DiskFull(f"only {free:.0f} MB free on {what} ({path}), below the {min_mb} MB RenderLite keeps "
                           "free for running apps; free space (e.g. `docker system prune`, fewer kept images with "
                           "RENDERLITE_KEEP_IMAGES) or lower RENDERLITE_MIN_FREE_DISK_MB, then deploy again")
