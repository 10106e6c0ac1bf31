"""Requests to the local Traefik's entry points as a browser would send them to a tenant host:
the TCP connection goes to 127.0.0.1 (the entry point), the tenant host goes in the TLS SNI
and the Host header. Nothing here connects anywhere but 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from kubernetes import client

from . import pod_network, settings, standin

ENTRY_POINT = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def standin(self) -> dict | None:
        """The stand-in's self-description, or None when something else answered (Traefik)."""
        try:
            answer = json.loads(self.body)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) and answer.get("server") == standin.IDENTITY else None


def _tls_context() -> ssl.SSLContext:
    # Routing checks only: until cert-manager has issued a host's certificate Traefik serves
    # its default one. served_certificate and verified_handshake check the certificates.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _EntryPointHTTPS(http.client.HTTPSConnection):
    def __init__(self, tenant_host: str, port: int):
        super().__init__(ENTRY_POINT, port, context=_tls_context(), timeout=10)
        self.tenant_host = tenant_host

    def connect(self):
        sock = socket.create_connection((ENTRY_POINT, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.tenant_host)


def served_certificate(host: str) -> x509.Certificate:
    """The certificate the websecure entry point presents for SNI = host, not verified."""
    with socket.create_connection((ENTRY_POINT, settings.PORTS.traefik_websecure), 10) as sock:
        with _tls_context().wrap_socket(sock, server_hostname=host) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def verified_handshake(host: str, ca_pem: bytes) -> x509.Certificate:
    """A TLS handshake as a browser trusting only ca_pem makes it: the chain and the host name
    are verified (ssl.SSLCertVerificationError otherwise). Returns the served certificate."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with socket.create_connection((ENTRY_POINT, settings.PORTS.traefik_websecure), 10) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def _request(connection: http.client.HTTPConnection, host: str, path: str, headers: dict | None) -> Answer:
    try:
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        body = response.read() if response.status != 101 else _first_frame(response)
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


def https(host: str, path: str = "/", headers: dict | None = None) -> Answer:
    return _request(_EntryPointHTTPS(host, settings.PORTS.traefik_websecure), host, path, headers)


def plain_http(host: str, path: str = "/") -> Answer:
    return _request(http.client.HTTPConnection(ENTRY_POINT, settings.PORTS.traefik_web, timeout=10), host, path, None)


def websocket(host: str, path: str = "/websocket") -> Answer:
    """An RFC 6455 opening handshake over HTTPS; the body is the first frame's payload."""
    key = base64.b64encode(os.urandom(16)).decode()
    answer = https(host, path, {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                "Sec-WebSocket-Key": key})
    if answer.status == 101:
        assert answer.headers.get("sec-websocket-accept") == standin.websocket_accept(key), answer.headers
    return answer


def _first_frame(response: http.client.HTTPResponse) -> bytes:
    stream = response.fp
    first, second = stream.read(2)
    assert first == 0x81, f"expected one final text frame, got opcode byte {first:#x}"
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(stream.read(2), "big")
    elif length == 127:
        length = int.from_bytes(stream.read(8), "big")
    return stream.read(length)


def serving_pods(api: client.ApiClient, namespace: str, service: str) -> list[standin.Pod]:
    """The ready pods behind the tenant's Service as Traefik sees them (its EndpointSlices),
    each with the container ports its spec declares: where Odoo would listen."""
    slices = client.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    core = client.CoreV1Api(api)
    pods = []
    for endpoint_slice in slices:
        for endpoint in endpoint_slice.endpoints or []:
            if not (endpoint.conditions and endpoint.conditions.ready) or not endpoint.target_ref:
                continue
            pod = core.read_namespaced_pod(endpoint.target_ref.name, namespace)
            ports = tuple(port.container_port for container in pod.spec.containers for port in container.ports or [])
            pods.extend(standin.Pod(namespace, pod.metadata.name, address, ports) for address in endpoint.addresses)
    not_loopback = [(pod.name, pod.ip) for pod in pods if not pod_network.is_loopback(pod.ip)]
    assert not not_loopback, f"pods outside 127.0.0.0/8 (never contact them): {not_loopback}"
    return pods
