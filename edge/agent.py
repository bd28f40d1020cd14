"""The edge agent: serves the route table to Caddy, on one host:port (UDP and TCP).

- UDP: DNS answers (edge/dns.py) that tell Caddy where each service's live container is.
- TCP: the status page Caddy shows when a service has no running container (503, naming the
  service and its state) or when no service answers at a host (404). It never shows an app's
  logs or error details: those are for members, in the dashboard.
"""
from __future__ import annotations

import html
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from edge import dns
from edge.table import Table

log = logging.getLogger("renderlite.edge")

STATE_TEXT = {
    "stopped": "not running: it was stopped by its owner",
    "crashed": "not running: it crashed",
    "unhealthy": "failing its health check; it is being restarted",
    "failed": "not running: its last deployment failed",
    "building": "being deployed; try again in a moment",
    "created": "not deployed yet",
    "running": "running but did not answer; it may be restarting",
}


def status_page(host: str, domain: str, table: dict) -> tuple[int, str]:
    """Pure: (status code, HTML) for a request the edge could not send to a running app."""
    name = host.split(":", 1)[0].lower().rstrip(".")
    sub = name[:-len(domain) - 1] if name.endswith("." + domain) else None
    route = table.get(sub) if sub else None
    if route is None:
        title, text, code = "No service here", f"No RenderLite service answers at {name}.", 404
    else:
        title = f"{route.service}: unavailable"
        text = f"Service '{route.service}' is {STATE_TEXT.get(route.state, route.state)}."
        code = 503
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;margin:3em'><h1>{code}</h1><p>{html.escape(text, quote=False)}</p>"
            "<p style='color:#666'>Served by the RenderLite edge.</p></body></html>\n")
    return code, body


class EdgeAgent:
    def __init__(self, table: Table, instance: str, domain: str, address: str):
        host, port = address.rsplit(":", 1)
        self.table, self.instance, self.domain = table, instance, domain
        self.addr = (host, int(port))
        self._udp: socket.socket | None = None
        self._http: ThreadingHTTPServer | None = None

    def start(self) -> "EdgeAgent":
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._udp.bind(self.addr)
        threading.Thread(target=self._serve_dns, name="edge-dns", daemon=True).start()
        self._http = ThreadingHTTPServer(self.addr, self._handler())
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="edge-status", daemon=True).start()
        log.info("edge agent: DNS and status pages on %s:%d", *self.addr)
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        if self._udp:
            self._udp.close()

    def _serve_dns(self) -> None:
        while True:
            try:
                packet, peer = self._udp.recvfrom(1500)
            except OSError:
                return
            try:
                reply = dns.answer(packet, self.table.routes(), self.instance, self.table.targets())
                if reply:
                    self._udp.sendto(reply, peer)
            except Exception:  # noqa: BLE001 - one bad packet never stops the edge
                log.exception("edge agent: DNS query failed")

    def _handler(self):
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _page(self):
                code, body = status_page(self.headers.get("Host", ""), agent.domain, agent.table.routes())
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")   # a request body is never read
                self.close_connection = True
                if code == 503:
                    self.send_header("Retry-After", "5")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _page

            def log_message(self, *args):
                pass

        return Handler
