"""The edge's DNS answers, pure: Caddy finds each service's live container by asking DNS.

Caddy's route for ``*.<domain>`` looks up the SRV record ``<subdomain>.<instance>.rl.internal``
(port and target), then the A record of the target ``d<deployment id>.<instance>.rl.internal``
(the container's address). Switching a service to a new deployment changes these answers, not
Caddy's configuration, so a switch never reloads the proxy and never cuts an open connection.
A new target name per deployment keeps Caddy's pooled connections to the old container apart,
and the old name keeps resolving while its container drains (Caddy caches the SRV answer).
"""
from __future__ import annotations

import socket
import struct
from typing import Mapping

from edge.routes import Route

ZONE = "rl.internal"
TTL = 1
A, AAAA, SRV, ANY = 1, 28, 33, 255
NOERROR, FORMERR, NXDOMAIN, REFUSED = 0, 1, 3, 5


def service_name(subdomain: str, instance: str) -> str:
    return f"{subdomain}.{instance}.{ZONE}"


def target_name(deployment_id: int, instance: str) -> str:
    return f"d{deployment_id}.{instance}.{ZONE}"


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.rstrip(".").split(".") if p) + b"\0"


def _parse_question(packet: bytes) -> tuple[int, int, str, int, bytes]:
    """(id, flags, qname, qtype, raw question). Raises ValueError on a malformed query."""
    if len(packet) < 12:
        raise ValueError("short packet")
    qid, flags, qdcount = struct.unpack(">HHH", packet[:6])
    if qdcount != 1 or flags & 0x8000:
        raise ValueError("not a single question")
    i, labels = 12, []
    while True:
        if i >= len(packet):
            raise ValueError("truncated name")
        n = packet[i]
        if n == 0:
            break
        if n & 0xC0 or i + 1 + n > len(packet):
            raise ValueError("bad label")
        labels.append(packet[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += n + 1
    if i + 5 > len(packet):
        raise ValueError("truncated question")
    qtype, _qclass = struct.unpack(">HH", packet[i + 1:i + 5])
    return qid, flags, ".".join(labels), qtype, packet[12:i + 5]


def records(qname: str, qtype: int, routes: Mapping[str, Route], instance: str,
            targets: Mapping[int, str] | None = None) -> tuple[int, list[tuple[int, bytes]]]:
    """Pure: (rcode, [(type, rdata)]) for one question, from the route table (by subdomain) and
    the addresses of running deployments (a draining one still resolves: Caddy may hold an SRV
    answer naming it for up to its TTL after a switch)."""
    suffix = f".{instance}.{ZONE}"
    if not qname.endswith(suffix):
        return REFUSED, []
    label = qname[:-len(suffix)]
    if label.startswith("d") and label[1:].isdigit():
        dep = int(label[1:])
        ip = next((r.ip for r in routes.values() if r.deployment_id == dep and r.ip), None) or (targets or {}).get(dep)
        if ip is None:
            return NXDOMAIN, []
        return NOERROR, [(A, socket.inet_aton(ip))] if qtype in (A, ANY) else []
    route = routes.get(label)
    if route is None:
        return NXDOMAIN, []
    if qtype in (SRV, ANY) and route.ip and route.port:
        rdata = struct.pack(">HHH", 0, 0, route.port) + _encode_name(target_name(route.deployment_id, instance))
        return NOERROR, [(SRV, rdata)]
    return NOERROR, []   # known service, nothing running: no answer, and Caddy shows the status page


def answer(packet: bytes, routes: Mapping[str, Route], instance: str,
           targets: Mapping[int, str] | None = None) -> bytes | None:
    """Pure: the response packet to a query packet (None for garbage, which gets no reply)."""
    try:
        qid, flags, qname, qtype, question = _parse_question(packet)
    except ValueError:
        return None
    rcode, found = records(qname, qtype, routes, instance, targets)
    out_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | rcode   # QR, opcode, AA, RD
    body = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, TTL, len(rdata)) + rdata for rtype, rdata in found)
    return struct.pack(">HHHHHH", qid, out_flags, 1, len(found), 0, 0) + question + body


def query(name: str, qtype: int, qid: int = 0x1234) -> bytes:
    """A query packet (used by tests and the agent's self-check)."""
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + struct.pack(">HH", qtype, 1)
