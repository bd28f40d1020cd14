"""Stage 3: start the new container and wait until it answers, probing from outside it."""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from core.errors import StartError
from core.text import clean
from jobs.health import HealthSpec, wait_first_pass

# What a web app may need after `cap_drop: ALL`: switch to its user, own its files, bind :80.
CAPS_KEPT = ["CHOWN", "SETUID", "SETGID", "FOWNER", "DAC_OVERRIDE", "NET_BIND_SERVICE", "KILL"]


@dataclass(frozen=True)
class ContainerPlan:
    name: str
    image: str
    port: int
    network: str
    labels: dict
    env: dict = field(default_factory=dict, repr=False)   # name -> Secret
    memory_mb: int = 512
    cpus: float = 1.0
    pids: int = 256

    def run_kwargs(self) -> dict:
        env = {k: (v.reveal() if hasattr(v, "reveal") else v) for k, v in self.env.items()}
        env["PORT"] = str(self.port)
        return dict(
            image=self.image, name=self.name, detach=True, labels=self.labels, environment=env,
            network=self.network, init=True, restart_policy={"Name": "unless-stopped"},
            mem_limit=f"{self.memory_mb}m", memswap_limit=f"{self.memory_mb}m",
            nano_cpus=int(self.cpus * 1e9), pids_limit=self.pids,
            security_opt=["no-new-privileges:true"], cap_drop=["ALL"], cap_add=CAPS_KEPT,
            log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}},
        )


def ensure_network(client, name: str) -> None:
    try:
        client.networks.get(name)
    except docker.errors.NotFound:
        client.networks.create(name, driver="bridge", labels={"renderlite.managed": "true"})


def start(client, plan: ContainerPlan, log):
    log.line(f"==> Starting container {plan.name} (PORT={plan.port})")
    ensure_network(client, plan.network)
    try:
        return client.containers.run(**plan.run_kwargs())
    except docker.errors.APIError as e:
        raise StartError(f"Docker could not start the container: {e.explanation or e}") from None


def tail(container, lines: int = 20) -> str:
    try:
        return clean(container.logs(tail=lines).decode("utf-8", "replace")).rstrip()
    except docker.errors.APIError:
        return ""


# Docker's embedded DNS server listens inside every container on a user-defined network, on
# 127.0.0.11 and a random port: it is not the app.
DOCKER_DNS = "127.0.0.11"
LOOPBACK = ("127.0.0.1", "::1")
LOOPBACK_GRACE_S = 5   # an app that listens only on loopback this long will not change its mind: fail now
ELSEWHERE_SAY_S = 5     # an app listening on one other port only this long: the log says so (it may still bind $PORT)


def listening(pid: int) -> list[tuple[str, int]]:
    """The TCP sockets the app listens on, read from its network namespace (Docker's DNS left out)."""
    tables = {}
    for name in ("tcp", "tcp6"):
        try:
            tables[name] = Path(f"/proc/{pid}/net/{name}").read_text()
        except OSError:
            tables[name] = ""
    return parse_listeners(tables["tcp"], tables["tcp6"])


def parse_listeners(tcp: str, tcp6: str) -> list[tuple[str, int]]:
    """Pure: (address, port) of the LISTEN rows of /proc/net/tcp and /proc/net/tcp6."""
    found = []
    for text, v6 in ((tcp, False), (tcp6, True)):
        for row in text.splitlines()[1:]:
            cols = row.split()
            if len(cols) > 3 and cols[3] == "0A":  # LISTEN
                addr, port = cols[1].split(":")
                found.append((_addr(addr, v6), int(port, 16)))
    return sorted({(a, p) for a, p in found if a != DOCKER_DNS})


def _addr(hexaddr: str, v6: bool) -> str:
    if not v6:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hexaddr)[::-1])
    raw = b"".join(bytes.fromhex(hexaddr[i:i + 8])[::-1] for i in range(0, 32, 8))
    return socket.inet_ntop(socket.AF_INET6, raw)


def diagnose_port(pid: int, port: int) -> str:
    return explain_listeners(listening(pid) if pid else [], port)


def explain_listeners(socks: list[tuple[str, int]], port: int) -> str:
    """Pure: why the health check on ``port`` fails, given what the app listens on."""
    if not socks:
        return f"the app is not listening on any TCP port; make it listen on 0.0.0.0:$PORT (PORT={port})"
    ours = [a for a, p in socks if p == port]
    if ours and all(a in LOOPBACK for a in ours):
        return (f"the app listens on {ours[0]}:{port}, which only the container itself can reach; "
                f"bind it to 0.0.0.0 (all interfaces) instead")
    if not ours:
        shown = ", ".join(f"{a}:{p}" for a, p in socks)
        if all(a in LOOPBACK for a, _ in socks):
            return (f"the app listens only on {shown}, which only the container itself can reach; make it listen "
                    f"on 0.0.0.0 (all interfaces) and on $PORT (PORT={port})")
        return (f"the app listens on {shown}, not on port {port}; set the service's port to "
                f"{socks[0][1]} or make the app use $PORT")
    return f"the app accepts connections on port {port} but does not answer HTTP"


def container_ip(container, network: str) -> str | None:
    nets = container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    return (nets.get(network) or {}).get("IPAddress") or None


def exit_hint(code, oom: bool = False) -> str:
    """What an exit code means, for a status or failure message (Docker says whether it was the OOM killer)."""
    if oom:
        return " (out of memory: killed at the service's memory limit; raise the limit or use less memory)"
    if code == 137:
        return " (killed by a signal)"
    if code == 139:
        return " (segmentation fault)"
    return ""


def check_alive(container) -> None:
    """Raise StartError if the container exited, is being restarted by Docker, or is gone."""
    try:
        container.reload()
    except docker.errors.NotFound:
        raise StartError("the new container was removed from outside (docker rm or another tool) before it "
                         "passed its health check; deploy again") from None
    state = container.attrs.get("State", {})
    if state.get("Status") in ("exited", "dead") or state.get("Restarting") or state.get("RestartCount", 0) > 0:
        raise StartError(f"the app exited with code {state.get('ExitCode')}"
                         f"{exit_hint(state.get('ExitCode'), bool(state.get('OOMKilled')))} right "
                         "after starting; its last output below says why (often a missing environment variable: "
                         "`./renderlite env set <service> KEY=value`, or a wrong start command). "
                         f"Last output:\n{tail(container) or '(no output)'}")


DEFAULT_PORT = 3000


class PortFound(Exception):
    """Port discovery: the app listens on exactly one port, and it is not the one probed."""

    def __init__(self, port: int):
        super().__init__(port)
        self.port = port


def choose_port(setting: int | None, exposed: list[str]) -> tuple[int, str]:
    """Pure: the port to set as $PORT and probe, and why (for the log)."""
    if setting:
        return setting, "the service's port setting"
    tcp = sorted(int(p.split("/")[0]) for p in exposed if p.endswith("/tcp") or "/" not in p)
    if len(tcp) == 1:
        return tcp[0], "EXPOSE in the image; the service's port is not set"
    if tcp:
        return tcp[0], f"the lowest of the image's EXPOSE ports {', '.join(map(str, tcp))}; set the service's port to choose"
    return DEFAULT_PORT, f"default: the service's port is not set and the image EXPOSEs none; the app's port is discovered"


def image_ports(image) -> list[str]:
    return sorted(((image.attrs.get("Config") or {}).get("ExposedPorts") or {}).keys())


def discovered(pid: int, port: int) -> int | None:
    """The one port other than ``port`` the app listens on, reachable from outside (else None)."""
    socks = [(a, p) for a, p in (listening(pid) if pid else []) if a not in ("127.0.0.1", "::1")]
    ports = {p for _, p in socks}
    return ports.pop() if len(ports) == 1 and port not in ports else None


def wait_healthy(container, plan: ContainerPlan, spec: HealthSpec, log, discover: bool = False,
                 ready: bool = False) -> str:
    """Wait until the app passes its health check. Returns its IP on the apps network.
    With ``discover``, raise PortFound as soon as the app listens on one other port only."""
    loopback_since: list[float] = []
    elsewhere_since: list[float] = []
    said: list[bool] = []

    def watch():
        check_alive(container)
        pid = container.attrs.get("State", {}).get("Pid") or 0
        if discover:
            found = discovered(pid, plan.port)
            if found:
                raise PortFound(found)
        socks = listening(pid) if pid else []
        if socks and all(a in LOOPBACK for a, _ in socks):
            loopback_since.append(time.monotonic())
            if loopback_since[-1] - loopback_since[0] >= LOOPBACK_GRACE_S:
                raise StartError(f"{explain_listeners(socks, plan.port)}. Last output:\n{tail(container) or '(no output)'}")
        else:
            loopback_since.clear()
        if not discover and len({p for _, p in socks}) == 1 and socks[0][1] != plan.port:
            elsewhere_since.append(time.monotonic())   # e.g. 0.0.0.0:8765 while the service says 5000
            if elsewhere_since[-1] - elsewhere_since[0] >= ELSEWHERE_SAY_S and not said:
                # not a failure yet: a debug or metrics port can come up long before the app's own
                log.line(f"    {explain_listeners(socks, plan.port)} (so far; still waiting: cancel the deployment "
                         "if that is the app's only port)")
                said.append(True)
        else:
            elsewhere_since.clear()
    try:
        wait_first_pass(lambda: container_ip(container, plan.network), plan.port, spec, watch, log, ready=ready)
    except TimeoutError as e:
        pid = container.attrs.get("State", {}).get("Pid") or 0
        if " answered " in str(e):   # the app is up, but answers only errors: said as soon as that is clear
            fix = ("fix it or change the path" if spec.path else
                   "the app starts but fails on its pages (its output below says why); fix that, or set a health "
                   "check path that answers 2xx (e.g. `./renderlite set <service> health_path=/healthz`)")
            raise StartError(f"the app failed its health check on port {plan.port}: {e}; {fix}. The version already "
                             f"serving keeps serving. Last output:\n{tail(container) or '(no output)'}") from None
        hint = diagnose_port(pid, plan.port)
        if hint.startswith("the app is not listening on any TCP port"):   # or not yet: a slow start
            hint += (f"; if it needs longer than {spec.start_period:g} s to start, raise the service's "
                     "health_start_period (e.g. `./renderlite set <service> health_start_period=180`)")
        raise StartError(f"the app did not pass its health check on port {plan.port} within {spec.start_period:g} s: "
                         f"{hint}. Last output:\n{tail(container) or '(no output)'}") from None
    return container_ip(container, plan.network)


def process_uid(container) -> int | None:
    """The real uid the container's first process runs as, read from /proc (the truth, whatever
    USER says: a name can map to uid 0)."""
    pid = (container.attrs.get("State") or {}).get("Pid") or 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def remove(container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
