"""The one place that reads the environment.

Every other module receives a ``Settings`` object; nothing else calls ``os.environ``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value RenderLite cannot use; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; set it to e.g. {default}") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name}={raw!r}: must be a number greater than 0, e.g. {default}")
    return value


def _bool(env: dict[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r} must be true or false")


def _hostport(env: dict[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or default).strip()
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={raw!r} must be host:port, e.g. {default}")
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str
    domain: str = "localhost"
    edge_port: int = 8080
    web_port: int = 3000
    web_host: str = "127.0.0.1"     # the dashboard listens here; apps (on a bridge) cannot reach 127.0.0.1
    caddy_admin: str = "127.0.0.1:2019"
    edge_agent: str = "127.0.0.1:8053"
    edge: str = "caddy"
    instance: str = "default"
    apps_network: str = "renderlite-apps"
    clone_timeout: int = 120
    build_timeout: int = 900
    health_timeout: int = 60
    drain_seconds: int = 2
    app_memory_mb: int = 512
    app_cpus: float = 1.0
    app_pids: int = 256
    keep_images: int = 3
    build_memory_mb: int = 2048
    build_cpus: float = 1.0
    build_pids: int = 1024
    clone_max_mb: int = 500
    min_free_disk_mb: int = 1024
    require_non_root: bool = False
    base_images: dict[str, str] = field(default_factory=dict)
    secret_key: str | None = field(default=None, repr=False)

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin_token"

    @property
    def routes_file(self) -> Path:
        return self.data_dir / "routes.json"

    @property
    def redis_prefix(self) -> str:
        return f"renderlite:{self.instance}:"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def service_url(self, subdomain: str) -> str:
        port = "" if self.edge_port == 80 else f":{self.edge_port}"
        return f"http://{subdomain}.{self.domain}{port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("RENDERLITE_DATA_DIR") or ROOT / ".renderlite").resolve()
        db = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'renderlite.db'}"
        if db.startswith("postgres://"):
            db = "postgresql://" + db[len("postgres://"):]
        if db.startswith("postgresql://"):
            db = "postgresql+psycopg://" + db[len("postgresql://"):]
        if not (db.startswith("postgresql+psycopg://") or db.startswith("sqlite:///")):
            raise SettingsError(
                f"DATABASE_URL={db.split('@')[-1]!r} is not a PostgreSQL or SQLite URL; "
                "use postgresql://user@host/db or leave it unset for the SQLite default")
        domain = env.get("RENDERLITE_DOMAIN", "localhost").strip().lower()
        if not domain or "/" in domain or ":" in domain:
            raise SettingsError(f"RENDERLITE_DOMAIN={domain!r} must be a bare host name such as apps.example.com")
        instance = env.get("RENDERLITE_INSTANCE", "default")
        if not instance.replace("-", "").isalnum():
            raise SettingsError(f"RENDERLITE_INSTANCE={instance!r} may hold only letters, digits and '-'")
        if instance == "base":   # renderlite-base/* are the local base images, never an installation's
            raise SettingsError("RENDERLITE_INSTANCE=base is reserved; pick another name")
        base_images = {
            k[len("RENDERLITE_BASE_IMAGE_"):].lower(): v
            for k, v in env.items() if k.startswith("RENDERLITE_BASE_IMAGE_") and v
        }
        edge = env.get("RENDERLITE_EDGE", "caddy")
        if edge not in ("caddy", "traefik"):
            raise SettingsError(f"RENDERLITE_EDGE={edge!r} must be 'caddy' (local runs) or 'traefik' (docker-compose)")
        return cls(
            edge=edge,
            data_dir=data_dir,
            database_url=db,
            redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            domain=domain,
            edge_port=_int(env, "RENDERLITE_EDGE_PORT", 8080),
            web_port=_int(env, "RENDERLITE_WEB_PORT", 3000),
            web_host=(env.get("RENDERLITE_WEB_HOST") or "127.0.0.1").strip(),
            caddy_admin=_hostport(env, "RENDERLITE_CADDY_ADMIN", "127.0.0.1:2019"),
            edge_agent=_hostport(env, "RENDERLITE_EDGE_AGENT", "127.0.0.1:8053"),
            instance=instance,
            apps_network=env.get("RENDERLITE_APPS_NETWORK", f"renderlite-{instance}-apps"),
            clone_timeout=_int(env, "RENDERLITE_CLONE_TIMEOUT", 120),
            build_timeout=_int(env, "RENDERLITE_BUILD_TIMEOUT", 900),
            health_timeout=_int(env, "RENDERLITE_HEALTH_TIMEOUT", 60),
            drain_seconds=_int(env, "RENDERLITE_DRAIN_SECONDS", 2),
            app_memory_mb=_int(env, "RENDERLITE_APP_MEMORY_MB", 512),
            app_pids=_int(env, "RENDERLITE_APP_PIDS", 256),
            app_cpus=_float(env, "RENDERLITE_APP_CPUS", 1.0),
            keep_images=_int(env, "RENDERLITE_KEEP_IMAGES", 3),
            build_memory_mb=_int(env, "RENDERLITE_BUILD_MEMORY_MB", 2048),
            build_cpus=_float(env, "RENDERLITE_BUILD_CPUS", 1.0),
            build_pids=_int(env, "RENDERLITE_BUILD_PIDS", 1024),
            clone_max_mb=_int(env, "RENDERLITE_CLONE_MAX_MB", 500),
            min_free_disk_mb=_int(env, "RENDERLITE_MIN_FREE_DISK_MB", 1024),
            require_non_root=_bool(env, "RENDERLITE_REQUIRE_NON_ROOT"),
            base_images=base_images,
            secret_key=env.get("RENDERLITE_SECRET_KEY") or None,
        )
