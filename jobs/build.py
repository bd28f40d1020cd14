"""Stage 2: build the image from the service's Dockerfile with the Docker SDK, streaming output."""
from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from core.errors import BuildError, Cancelled

STEP_RE = re.compile(r"^Step \d+/\d+ : ")


@dataclass(frozen=True)
class BuildPlan:
    context: Path          # the service's root directory inside the checkout
    dockerfile: str        # relative to context
    tag: str               # renderlite/<service>:<deployment id>
    labels: dict
    timeout: int
    memory_mb: int = 2048


def plan(checkout: Path, root_dir: str, dockerfile_path: str, tag: str, labels: dict,
         timeout: int) -> BuildPlan:
    context = (checkout / root_dir).resolve() if root_dir else checkout.resolve()
    if not str(context).startswith(str(checkout.resolve())):
        raise BuildError(f"root directory '{root_dir}' points outside the repository; set a path inside it")
    if not context.is_dir():
        raise BuildError(f"root directory '{root_dir}' does not exist in the repository; "
                         "check the service's root directory setting")
    dockerfile = (context / dockerfile_path).resolve()
    if not str(dockerfile).startswith(str(context)):
        raise BuildError(f"Dockerfile path '{dockerfile_path}' points outside the root directory")
    if not dockerfile.is_file():
        where = f"{root_dir}/{dockerfile_path}" if root_dir else dockerfile_path
        raise BuildError(f"no Dockerfile at '{where}' in the repository; add one, or set the service's "
                         "Dockerfile path (builds without a Dockerfile are not supported yet)")
    return BuildPlan(context=context, dockerfile=dockerfile_path, tag=tag, labels=labels, timeout=timeout)


class _BuildClient(docker.APIClient):
    """A Docker API client that keeps the build's HTTP response, so a watchdog can cut it.
    Closing the connection makes the daemon cancel the build and kill its RUN container."""
    response = None

    def _post(self, url, **kwargs):
        resp = super()._post(url, **kwargs)
        if url.endswith("/build"):
            self.response = resp
        return resp

    def cut(self) -> None:
        resp = self.response
        try:
            sock = resp.raw._connection.sock if resp is not None else None
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            if resp is not None:
                resp.close()
        except (AttributeError, OSError):
            pass


class Watchdog:
    """Stops a build at its time limit, or when ``cancelled()`` turns true (polled each second)."""

    def __init__(self, api: _BuildClient, limit: float, cancelled=lambda: False):
        self.api, self.limit, self.cancelled = api, limit, cancelled
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()

    def _watch(self):
        deadline = time.monotonic() + self.limit
        while not self._done.wait(1.0):
            if time.monotonic() >= deadline:
                self.reason = "timeout"
            elif self.cancelled():
                self.reason = "cancelled"
            if self.reason:
                self.api.cut()
                return


def run(client, p: BuildPlan, log, cancelled=lambda: False) -> str:
    """Build and return the image id. Raises BuildError naming the failing step."""
    log.line(f"==> Building {p.tag} from {p.dockerfile}")
    step = "the first step"
    api = _BuildClient(base_url=client.api.base_url if not client.api.base_url.startswith("http+docker")
                       else "unix:///var/run/docker.sock", version=client.api.api_version, timeout=p.timeout + 60)
    watchdog = Watchdog(api, p.timeout, cancelled)
    try:
        with watchdog:
            stream = api.build(path=str(p.context), dockerfile=p.dockerfile, tag=p.tag, rm=True,
                               forcerm=True, decode=True, pull=False, labels=p.labels,
                               container_limits={"memory": p.memory_mb * 1024 * 1024,
                                                 "memswap": p.memory_mb * 1024 * 1024,
                                                 "cpushares": 512})
            image_id = None
            for chunk in stream:
                if "stream" in chunk:
                    for line in chunk["stream"].rstrip("\n").split("\n"):
                        if not line.strip():
                            continue
                        if STEP_RE.match(line):
                            step = line.split(" : ", 1)[0].replace("Step ", "step ") + f" ({line.split(' : ', 1)[1].strip()})"
                        log.line(line)
                elif "error" in chunk:
                    msg = chunk.get("error", "").strip()
                    log.line(f"ERROR: {msg}")
                    raise BuildError(f"build failed at {step}: {msg}; fix that step in the Dockerfile and deploy again")
                elif "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as e:
        msg = (e.explanation or str(e)).strip()
        log.line(f"ERROR: {msg}")
        raise BuildError(f"Docker refused the build: {msg}; fix the Dockerfile and deploy again") from None
    except BuildError:
        raise
    except Exception as e:  # the cut connection surfaces as urllib3/http.client/requests errors
        if watchdog.reason is None:
            raise BuildError(f"build failed: {e}") from None
    finally:
        api.close()
    if watchdog.reason == "timeout":
        raise BuildError(f"build exceeded {p.timeout} s at {step} and was stopped; make the build faster "
                         "or raise RENDERLITE_BUILD_TIMEOUT")
    if watchdog.reason == "cancelled":
        raise Cancelled("cancelled by a user during the build")
    try:
        return image_id or client.images.get(p.tag).id
    except docker.errors.ImageNotFound:
        raise BuildError(f"build finished without producing {p.tag}; check the build log") from None
