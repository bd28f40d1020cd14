"""The one wiring place: builds clients from settings. Called by each process's entry point."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import redis
from sqlalchemy.engine import Engine

from core.settings import Settings
from models.db import make_engine


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    _broker: object = field(default=None, repr=False)

    @cached_property
    def docker(self):
        import docker

        return docker.from_env(timeout=300)

    @cached_property
    def docker_root(self) -> str | None:
        """Docker's data root (where images and layers live), as the engine reports it."""
        try:
            return self.docker.info().get("DockerRootDir")
        except Exception:  # noqa: BLE001 - an engine that does not answer fails the build later, with its reason
            return None

    @cached_property
    def build_cgroup(self) -> str | None:
        """The cgroup parent of build steps (their process limit), set up once per process."""
        from jobs.build import build_cgroup

        try:
            driver = self.docker.info().get("CgroupDriver")
        except Exception:  # noqa: BLE001
            return None
        return build_cgroup(driver, self.settings.build_pids)

    @property
    def broker(self):
        if self._broker is None:
            from jobs.queue import make_broker

            self._broker = make_broker(self.settings)
        return self._broker


def build(settings: Settings | None = None) -> Platform:
    settings = settings or Settings.from_env()
    return Platform(
        settings=settings,
        engine=make_engine(settings),
        redis=redis.Redis.from_url(settings.redis_url, decode_responses=True,
                                   socket_timeout=10, health_check_interval=30),
    )
