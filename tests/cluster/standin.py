"""A stand-in for Odoo's HTTP ports, bound to a pod's loopback address. It is NOT Odoo.

No container runs on the local platform, so nothing listens where Traefik sends a tenant's
requests. A stand-in answers there in Odoo's place and says who it is: every answer is a
JSON object naming the pod, its namespace and the port that answered, with the request's
path, Host and X-Forwarded-* headers as they arrived. A websocket upgrade (what Odoo's bus
does on /websocket) is accepted, and the same JSON is sent as one text frame. It binds only
loopback addresses (kwok gives pods 127.1.x.y here, see pod_network).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import pod_network

IDENTITY = "stand-in, not Odoo"
FORWARDED_HEADERS = ("X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-For",
                     "X-Forwarded-Server", "X-Real-Ip")
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    ip: str
    ports: tuple[int, ...]


def websocket_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (servers do not mask)."""
    if len(payload) < 126:
        return bytes([0x81, len(payload)]) + payload
    if len(payload) < 1 << 16:
        return bytes([0x81, 126]) + len(payload).to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + len(payload).to_bytes(8, "big") + payload


def _handler(pod: Pod, port: int) -> type[BaseHTTPRequestHandler]:
    class StandInHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> bytes:
            return json.dumps({
                "server": IDENTITY, "namespace": pod.namespace, "pod": pod.name, "port": port,
                "method": self.command, "path": self.path, "host": self.headers.get("Host"),
                "forwarded": {name: self.headers[name] for name in FORWARDED_HEADERS if name in self.headers},
            }).encode()

        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.headers.get("Upgrade", "").lower() == "websocket":
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", websocket_accept(self.headers.get("Sec-WebSocket-Key", "")))
                self.end_headers()
                self.wfile.write(text_frame(self._answer()))
                self.wfile.flush()
                self.close_connection = True
                return
            body = self._answer()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 (quiet: tests read answers, not logs)
            pass

    return StandInHandler


@contextlib.contextmanager
def serving(pods: Iterable[Pod]) -> Iterator[list[tuple[str, int]]]:
    """Stand-ins on every pod's address and ports until the block ends; yields (ip, port)s."""
    pods = list(pods)
    outside = [pod for pod in pods if not pod_network.is_loopback(pod.ip)]
    if outside:
        raise ValueError(f"refusing to bind non-loopback pod addresses: {[(p.name, p.ip) for p in outside]}")
    servers = []
    try:
        for pod in pods:
            for port in pod.ports:
                server = ThreadingHTTPServer((pod.ip, port), _handler(pod, port))
                server.daemon_threads = True
                servers.append(server)
                threading.Thread(target=server.serve_forever, name=f"stand-in {pod.ip}:{port}", daemon=True).start()
        yield [server.server_address[:2] for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
