"""Health checks, probed from the platform (outside the app's container), so an image without
curl or wget still gets a real check. Each probe result goes into the deploy log."""
from __future__ import annotations

import json
import socket
import time
from dataclasses import asdict, dataclass


START_POLL_S = 0.05


@dataclass(frozen=True)
class HealthSpec:
    kind: str = "http"          # "http": any HTTP answer (or a 2xx/3xx on `path` if set); "tcp": a connection
    path: str = ""              # e.g. "/healthz"; empty: any HTTP answer on "/"
    interval: float = 5.0       # seconds between probes of a running app (control/health_monitor.py)
    timeout: float = 2.0        # seconds per probe
    start_period: float = 60.0  # how long a new container may take to pass its first probe
    retries: int = 3            # consecutive failures that make a running app unhealthy

    @classmethod
    def from_service(cls, svc, default_start: float) -> "HealthSpec":
        return cls(kind=getattr(svc, "health_type", None) or "http", path=getattr(svc, "health_path", None) or "",
                   interval=float(getattr(svc, "health_interval", None) or 5.0),
                   timeout=float(getattr(svc, "health_timeout", None) or 2.0),
                   start_period=float(getattr(svc, "health_start_period", None) or default_start),
                   retries=int(getattr(svc, "health_retries", None) or 3))


def spec_json(spec: HealthSpec) -> str:
    return json.dumps(asdict(spec), sort_keys=True)


def spec_from_json(text: str | None) -> HealthSpec | None:
    """The check a deployment was made with (settings changed later apply from the next deploy)."""
    try:
        return HealthSpec(**json.loads(text)) if text else None
    except (ValueError, TypeError):
        return None


def probe(ip: str, port: int, spec: HealthSpec, first: bool = False) -> str | None:
    """One probe. Returns None when healthy, else what went wrong (for the log).

    With no path set, any answer passes on a running app (it is alive); the ``first`` pass of a new
    deployment also needs an answer below 500: a version whose every page is a server error must
    not replace one that works (found in a trial: a Django site without collectstatic answered 500
    everywhere, and its deployment read SUCCESS)."""
    try:
        with socket.create_connection((ip, port), timeout=spec.timeout) as s:
            if spec.kind == "tcp":
                return None
            deadline = time.monotonic() + spec.timeout   # for the whole probe: a trickling app cannot hold it
            s.settimeout(spec.timeout)
            path = spec.path or "/"
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: health.renderlite\r\nUser-Agent: renderlite-health\r\n"
                      "Connection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n" not in head and len(head) < 256:
                left = deadline - time.monotonic()
                if left <= 0:
                    return f"no complete answer within {spec.timeout:g} s"
                s.settimeout(left)
                try:
                    chunk = s.recv(256)
                except TimeoutError:
                    return f"no complete answer within {spec.timeout:g} s"
                if not chunk:
                    break
                head += chunk
    except OSError as e:
        return e.strerror or str(e)
    if not head.startswith(b"HTTP/"):
        return "connected, but the answer is not HTTP" if head else "connected, but the app closed without answering"
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    try:
        code = int(status_line.split()[1])
    except (IndexError, ValueError):
        return f"malformed HTTP status line {status_line!r}"
    if spec.path and not 200 <= code < 400:
        return f"GET {spec.path} answered {code}"
    if first and not spec.path and code >= 500:
        return f"GET / answered {code}, a server error"
    return None


ERROR_GRACE_S = 20   # an app that answers only errors this long will not change its mind: fail before start_period


def wait_first_pass(ip_of, port: int, spec: HealthSpec, alive, log, ready: bool = False) -> None:
    """Probe until the first pass. ``ip_of()`` gives the container's address (or None yet);
    ``alive()`` raises when the container has died. Raises TimeoutError with the last result.
    ``ready``: a new deployment's first pass, which also needs an answer below 500 (not a start or
    restart of a version already live: an app whose / errors is still that app)."""
    deadline = time.monotonic() + spec.start_period
    last, attempt, logged = None, 0, 0.0
    # Until the first pass, probe often (a deploy should not wait a whole interval for nothing);
    # the interval is the period of the checks on a running app.
    pause = min(spec.interval, START_POLL_S)
    what = f"TCP :{port}" if spec.kind == "tcp" else f"GET http://<container>:{port}{spec.path or '/'}"
    log.line(f"    health check: {what}, up to {spec.start_period:g} s for the first pass")
    answering_since = None   # the app answers, but only with errors (a 404 on the path, a 500)
    while True:
        alive()
        ip = ip_of()
        if ip:
            attempt += 1
            why = probe(ip, port, spec, first=ready)
            if why is None:
                log.line(f"    probe {attempt}: passed")
                return
            if why != last or time.monotonic() - logged >= 5:
                log.line(f"    probe {attempt}: {why}")
                logged = time.monotonic()
            last = why
            if " answered " in why and " answered 503" not in why:   # 503: "not ready yet", wait for it
                answering_since = answering_since or time.monotonic()
                if time.monotonic() - answering_since >= ERROR_GRACE_S:
                    raise TimeoutError(f"{why}, for {time.monotonic() - answering_since:.0f} s in a row")
            else:
                answering_since = None
        if time.monotonic() >= deadline:
            raise TimeoutError(last or "the container never got an address")
        time.sleep(pause)
