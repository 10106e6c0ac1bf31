"""Real HTTP(S) requests through the real Traefik to tenants provisioned by the tenant module.

kwok gives pods loopback addresses (127.1.x.y), and a stand-in server (tests/cluster/
standin.py) answers on each web pod's address and declared ports in Odoo's place. It is a
stand-in, NOT Odoo: it tells which pod and port answered and echoes the X-Forwarded-*
headers it received. Requests go to Traefik's loopback entry points with the tenant host in
the SNI and Host header; every pod address is checked to be in 127.0.0.0/8 before any
request, and nothing else is ever contacted. The API server refuses loopback addresses in the
EndpointSlices its controller writes, so the platform's loopback-endpoints daemon
(tests/cluster/loopback_endpoints.py) publishes pod addresses in FQDN EndpointSlices, which
Traefik reads like any others. The tenants here use the internal CA issuer, as the local
inventory does: cert-manager's controller (tests/cluster/cert_manager.py) issues each host's
certificate into its Ingress TLS Secret, and Traefik serves it.
"""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.base import (
    HTTP_PORT, ODOO_SERVICE, WEBSOCKET_PORT,
)
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.odoo import tls_secret_name
from tests.cluster import __main__ as cluster_cli
from tests.cluster import cert_manager, settings, standin, through_traefik

from . import tenants
from .conftest import gone, wait_for

ROUTE_TIMEOUT = 60
CERTIFICATE_TIMEOUT = 90


@pytest.fixture(scope="module")
def provision(kubeconfig, ledger_db, tmp_path_factory):
    if not cluster_cli.loopback_endpoints_daemon().running():
        pytest.fail("the loopback EndpointSlice publisher is not running: run `python -m tests.cluster up`")
    backup_dir = tmp_path_factory.mktemp("backups")

    def run(name, **overrides):
        result, failure = tenants.tenant(tenants.params(
            ledger_db, backup_dir, name=name, **{"cert_issuer": cert_manager.ca_issuer(), **overrides}))
        assert failure is None, failure
        return result["tenant"]
    return run


def _hosts(record):
    return [urlsplit(url).hostname for url in record["urls"]]


def _pods(api, record, replicas):
    def ready():
        pods = through_traefik.serving_pods(api, record["namespace"], ODOO_SERVICE)
        return pods if len(pods) >= replicas else None
    return wait_for(ready, ROUTE_TIMEOUT, f"{replicas} ready web pod(s) of {record['name']}")


def _reaches(host, namespace, path="/"):
    """Poll until Traefik has the route and the answer comes from the namespace's stand-in."""
    def answered():
        answer = through_traefik.https(host, path).standin()
        return answer if answer and answer["namespace"] == namespace else None
    return wait_for(answered, ROUTE_TIMEOUT, f"https://{host}{path} to reach a stand-in in {namespace}")


def _status_becomes(host, statuses, what):
    def reached():
        answer = through_traefik.https(host)
        return answer if answer.status in statuses else None
    return wait_for(reached, ROUTE_TIMEOUT, what)


@pytest.fixture(scope="module")
def two_tenants(api, provision):
    """A `small` tenant (workers 0) with a custom domain and a `medium` one (workers 3), with
    stand-ins serving on their web pods while the module's tests run."""
    small_name, medium_name = tenants.unique("rt"), tenants.unique("rt")
    small = provision(small_name, plan="small", domains=[f"shop-{small_name}.example.test"])
    medium = provision(medium_name, plan="medium")
    pods = _pods(api, small, 1) + _pods(api, medium, 1)
    with standin.serving(pods):
        yield {"small": small, "medium": medium, "pods": pods}


def test_pods_have_loopback_addresses_from_their_nodes_ranges(core, two_tenants):
    nodes = {node.metadata.name: node.spec.pod_cidr for node in core.list_node().items}
    assert set(settings.NODE_NAMES) <= set(nodes)
    for pod in two_tenants["pods"]:
        node = core.read_namespaced_pod(pod.name, pod.namespace).spec.node_name
        prefix = nodes[node].rsplit(".", 1)[0] + "."
        assert nodes[node].startswith("127.") and pod.ip.startswith(prefix), (pod, node, nodes[node])


def test_each_tenants_hosts_reach_its_own_pods_only(two_tenants):
    for record in (two_tenants["small"], two_tenants["medium"]):
        own_pods = {pod.name for pod in two_tenants["pods"] if pod.namespace == record["namespace"]}
        for host in _hosts(record):
            _reaches(host, record["namespace"])
            for attempt in range(5):
                answer = through_traefik.https(host).standin()
                assert answer is not None and answer["namespace"] == record["namespace"], (host, attempt, answer)
                assert answer["pod"] in own_pods and answer["port"] == HTTP_PORT
    assert len(_hosts(two_tenants["small"])) == 2, "the small tenant's custom domain is routed too"


def test_an_unknown_host_is_not_routed(two_tenants):
    _reaches(_hosts(two_tenants["medium"])[0], two_tenants["medium"]["namespace"])
    answer = through_traefik.https(f"nobody-{tenants.unique()}.127.0.0.1.nip.io")
    assert answer.status == 404 and answer.standin() is None


@pytest.mark.parametrize(("plan", "port"), [("medium", WEBSOCKET_PORT), ("small", HTTP_PORT)])
def test_websocket_reaches_the_gevent_port_only_with_workers(two_tenants, plan, port):
    record = two_tenants[plan]
    host = _hosts(record)[0]
    _reaches(host, record["namespace"])
    plain = _reaches(host, record["namespace"], "/websocket")
    assert plain["port"] == port and plain["path"] == "/websocket"
    upgraded = through_traefik.websocket(host)
    assert upgraded.status == 101, upgraded
    answer = through_traefik.Answer(200, {}, upgraded.body).standin()
    assert answer["namespace"] == record["namespace"] and answer["port"] == port
    assert _reaches(host, record["namespace"], "/web/login")["port"] == HTTP_PORT


def test_forwarded_headers_name_the_tenant_host_and_https(two_tenants):
    record = two_tenants["small"]
    for host in _hosts(record):
        forwarded = _reaches(host, record["namespace"], "/web?db=x")["forwarded"]
        # Odoo's proxy_mode ignores every X-Forwarded-* header unless X-Forwarded-Host is set.
        assert forwarded["X-Forwarded-Host"] == host
        assert forwarded["X-Forwarded-Proto"] == "https"


def test_plain_http_is_redirected_to_https_without_reaching_a_pod(two_tenants):
    record = two_tenants["medium"]
    host = _hosts(record)[0]
    _reaches(host, record["namespace"])
    answer = through_traefik.plain_http(host, "/web/login?redirect=%2Fodoo")
    assert answer.status in (301, 308), answer
    assert answer.standin() is None
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.hostname) == ("https", host)
    assert location.port == settings.PORTS.traefik_websecure  # the websecure entry point's port
    assert (location.path, location.query) == ("/web/login", "redirect=%2Fodoo")


def test_a_suspended_tenant_is_not_reached_and_a_removed_one_is_unknown(api, provision, two_tenants):
    name = tenants.unique("rt")
    record = provision(name, plan="small")
    host = _hosts(record)[0]
    pods = _pods(api, record, 1)
    # The stand-in keeps listening after suspension: only Traefik's routing can keep it unreached.
    with standin.serving(pods):
        _reaches(host, record["namespace"])
        assert provision(name, plan="small", state="suspended")["state"] == "suspended"
        suspended = _status_becomes(host, (503, 404), f"{host} to stop reaching its pod once suspended")
        assert suspended.standin() is None
        provision(name, state="absent", confirm=name, backup=False)
        removed = _status_becomes(host, (404,), f"{host} to be unknown once the tenant is removed")
        assert removed.standin() is None
        assert not client.NetworkingV1Api(api).list_ingress_for_all_namespaces(
            field_selector=f"metadata.namespace={record['namespace']}").items
    # The other tenants are untouched.
    _reaches(_hosts(two_tenants["medium"])[0], two_tenants["medium"]["namespace"])


def _dns_names(certificate):
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)


def _issued_by(host, ca):
    """The certificate served for host once it is one the CA issued for host (Traefik serves
    its default certificate until cert-manager has filled the host's Secret)."""
    served = through_traefik.served_certificate(host)
    return served if served.issuer == ca.subject and host in _dns_names(served) else None


def test_each_host_is_served_its_own_certificate_signed_by_the_local_ca(api, core, two_tenants):
    if not cert_manager.daemon().running():
        pytest.fail("cert-manager's controller is not running: run `python -m tests.cluster up`")
    ca_pem = cert_manager.ca_certificate_pem(api)
    ca = x509.load_pem_x509_certificate(ca_pem)
    hosts = [(record["namespace"], host, _hosts(record)[0]) for record in (two_tenants["small"], two_tenants["medium"])
             for host in _hosts(record)]
    assert len(hosts) == 3, hosts
    served_names = {}
    for namespace, host, primary in hosts:
        served = wait_for(lambda h=host: _issued_by(h, ca), CERTIFICATE_TIMEOUT,
                          f"Traefik to serve a certificate of {cert_manager.ca_issuer()} for {host}")
        served.verify_directly_issued_by(ca)
        # The Ingress's TLS entry for this host names its own Secret, which holds what is served.
        secret = core.read_namespaced_secret(tls_secret_name(host, primary), namespace)
        assert secret.type == "kubernetes.io/tls"
        assert x509.load_pem_x509_certificate(base64.b64decode(secret.data["tls.crt"])) == served
        # A client trusting only the local CA accepts the certificate for this host name.
        assert through_traefik.verified_handshake(host, ca_pem) == served
        served_names[host] = set(_dns_names(served))
    assert all(names == {host} for host, names in served_names.items()), served_names


def _secret_certificate(core, namespace, secret_name):
    secret = core.read_namespaced_secret(secret_name, namespace)
    return x509.load_pem_x509_certificate(base64.b64decode(secret.data["tls.crt"])) if secret.data else None


def test_a_removed_hosts_certificate_secret_goes_with_it(api, core, provision):
    """The Certificate owns its Secret (enableCertificateOwnerRef, as the role's chart values
    run cert-manager): when a host leaves the Ingress, its private key does not stay behind."""
    ca = x509.load_pem_x509_certificate(cert_manager.ca_certificate_pem(api))
    name = tenants.unique("rt")
    domain = f"shop-{name}.example.test"
    record = provision(name, plan="small", domains=[domain])
    namespace, default_host = record["namespace"], _hosts(record)[0]
    try:
        for host in (default_host, domain):
            issued = wait_for(lambda h=host: _secret_certificate(core, namespace, tls_secret_name(h, default_host)),
                              CERTIFICATE_TIMEOUT, f"the certificate of {host} in its Secret")
            issued.verify_directly_issued_by(ca)
            assert _dns_names(issued) == [host]
        provision(name, plan="small", domains=[])
        wait_for(lambda: gone(core.read_namespaced_secret, tls_secret_name(domain, default_host), namespace),
                 CERTIFICATE_TIMEOUT, f"the Secret of the removed host {domain} to be deleted")
        assert _secret_certificate(core, namespace, tls_secret_name(default_host, default_host)) is not None
    finally:
        provision(name, state="absent", confirm=name, backup=False)
