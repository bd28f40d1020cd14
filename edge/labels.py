"""Labels that identify a RenderLite container and route it (Traefik reads the same ones)."""
from __future__ import annotations

from dataclasses import dataclass

PREFIX = "renderlite"
# The labels that say whose a container is and where it is routed; only RenderLite sets them.
IDENTITY = frozenset(f"{PREFIX}.{k}" for k in ("managed", "instance", "project", "service", "deployment",
                                              "subdomain", "port"))


@dataclass(frozen=True)
class Identity:
    instance: str
    project: str
    service: str
    deployment_id: int
    subdomain: str
    port: int


def container_labels(ident: Identity, domain: str, network: str) -> dict[str, str]:
    router = f"rl-{ident.instance}-{ident.service}"
    return {
        f"{PREFIX}.managed": "true",
        f"{PREFIX}.instance": ident.instance,
        f"{PREFIX}.project": ident.project,
        f"{PREFIX}.service": ident.service,
        f"{PREFIX}.deployment": str(ident.deployment_id),
        f"{PREFIX}.subdomain": ident.subdomain,
        f"{PREFIX}.port": str(ident.port),
        "traefik.enable": "true",
        "traefik.docker.network": network,
        f"traefik.http.routers.{router}.rule": f"Host(`{ident.subdomain}.{domain}`)",
        f"traefik.http.routers.{router}.entrypoints": "web",
        f"traefik.http.routers.{router}.service": router,
        f"traefik.http.services.{router}.loadbalancer.server.port": str(ident.port),
    }


ROLE = f"{PREFIX}.role"   # "release": a release command's one-off container, never routed


def release_labels(instance: str, project: str, service: str, deployment_id: int) -> dict[str, str]:
    """Whose a release command's container is (so the janitor can remove one a dead worker left),
    with no routing labels."""
    return {f"{PREFIX}.managed": "true", f"{PREFIX}.instance": instance, f"{PREFIX}.project": project,
            f"{PREFIX}.service": service, f"{PREFIX}.deployment": str(deployment_id), ROLE: "release"}


def image_repo(instance: str, service: str) -> str:
    """``renderlite/<service>``; another installation on the same engine (tests, a bench) gets its own.
    Images carry no labels (each build label costs a classic-builder step): the repository names them."""
    return f"renderlite/{service}" if instance == "default" else f"renderlite-{instance}/{service}"


def selector(instance: str, **extra: str) -> dict:
    """A Docker filter selecting this installation's containers (optionally one service)."""
    labels = [f"{PREFIX}.managed=true", f"{PREFIX}.instance={instance}"]
    labels += [f"{PREFIX}.{k}={v}" for k, v in extra.items()]
    return {"label": labels}
