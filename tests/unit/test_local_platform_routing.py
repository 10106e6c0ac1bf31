"""The local platform's routing pieces, without the platform: the entry points Traefik gets
from the Traefik role, the loopback pod ranges of kwok's Nodes, the EndpointSlices that
publish those addresses, and the stand-in server."""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket

import pytest
from kubernetes import client

from tests.cluster import bootstrap, control_plane, loopback_endpoints, pod_network, settings, standin, traefik


def test_local_web_entry_point_redirects_as_the_traefik_role_does():
    role = traefik.role_chart_values()
    assert role["ports"]["web"]["redirections"]["entryPoint"]["to"] == "websecure"
    web = traefik.static_config("token", "/ca.crt")["entryPoints"]["web"]
    assert web["address"] == f"127.0.0.1:{settings.PORTS.traefik_web}"
    assert web["http"]["redirections"] == role["ports"]["web"]["redirections"]


def test_local_entry_points_follow_the_role_when_it_turns_the_redirect_off():
    points = traefik.entrypoints({"traefik_redirect_to_https": False, "traefik_redirect_priority": 99})
    assert "http" not in points["web"]
    assert points["websecure"]["http"] == {"tls": {}}
    assert traefik.entrypoints({"traefik_redirect_priority": 99})["web"]["http"]["redirections"]["entryPoint"][
        "priority"] == 99


def test_every_entry_point_listens_on_loopback_only():
    for name, point in traefik.static_config("token", "/ca.crt")["entryPoints"].items():
        assert point["address"].startswith("127.0.0.1:"), name


def test_nodes_give_pods_disjoint_loopback_ranges():
    nodes = [obj for obj in bootstrap.objects() if obj["kind"] == "Node"]
    assert [node["metadata"]["name"] for node in nodes] == list(settings.NODE_NAMES)
    ranges = [ipaddress.ip_network(node["spec"]["podCIDR"]) for node in nodes]
    ranges.append(ipaddress.ip_network(pod_network.UNASSIGNED_NODES_CIDR))
    assert all(network.subnet_of(pod_network.LOOPBACK) for network in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:])
    assert [node["spec"]["podCIDRs"] for node in nodes] == [[node["spec"]["podCIDR"]] for node in nodes]


def test_kwok_allocates_loopback_addresses_for_nodes_without_a_range():
    kwok = next(daemon for daemon in control_plane.daemons() if daemon.name == "kwok")
    cidrs = [arg.split("=", 1)[1] for arg in kwok.argv if arg.startswith("--cidr=")]
    assert cidrs == [pod_network.UNASSIGNED_NODES_CIDR]


def test_node_pod_cidr_refuses_indexes_outside_the_range():
    with pytest.raises(ValueError, match="allowed 1-254"):
        pod_network.node_pod_cidr(0)


def test_stand_in_refuses_a_non_loopback_address():
    with pytest.raises(ValueError, match="non-loopback"), standin.serving([standin.Pod("ns", "p", "10.0.0.5", (8069,))]):
        pass


def _ask_a_stand_in(address, path, headers):
    """One request to a stand-in of pod odoo-web-1 (namespace tenant-a) on address; returns
    (its port, the response, what the handler answered, read by read_body(response))."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    with standin.serving([standin.Pod("tenant-a", "odoo-web-1", address, (port,))]):
        connection = http.client.HTTPConnection(address, port, timeout=5)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return port, response, _read_answer(response)
        finally:
            connection.close()


def _read_answer(response):
    if response.status != 101:
        return json.loads(response.read())
    first, second = response.fp.read(2)
    assert first == 0x81, "one final text frame"
    length = second & 0x7F if second & 0x7F < 126 else int.from_bytes(response.fp.read(2), "big")
    return json.loads(response.fp.read(length))


def test_stand_in_says_who_it_is_and_echoes_forwarded_headers():
    port, response, answer = _ask_a_stand_in("127.1.254.7", "/web?x=1", {
        "Host": "a.example.test", "X-Forwarded-Host": "a.example.test", "X-Forwarded-Proto": "https", "X-Other": "no"})
    assert response.status == 200
    assert answer == {"server": standin.IDENTITY, "namespace": "tenant-a", "pod": "odoo-web-1", "port": port,
                      "method": "GET", "path": "/web?x=1", "host": "a.example.test",
                      "forwarded": {"X-Forwarded-Host": "a.example.test", "X-Forwarded-Proto": "https"}}


def test_stand_in_accepts_a_websocket_upgrade():
    port, response, answer = _ask_a_stand_in("127.1.254.8", "/websocket", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13"})
    assert response.status == 101
    # RFC 6455's own example key and accept value.
    assert response.getheader("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert answer["path"] == "/websocket" and answer["port"] == port


def _service(selector, ports):
    return client.V1Service(
        metadata=client.V1ObjectMeta(name="odoo", namespace="tenant-a", uid="svc-uid"),
        spec=client.V1ServiceSpec(selector=selector, ports=[client.V1ServicePort(**port) for port in ports]))


def _pod(name, ip, labels, ready=True, namespace="tenant-a", deleting=False, ports=(("http", 8069),)):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, uid=f"{name}-uid", labels=labels,
                                     deletion_timestamp="2026-12-01T00:00:00Z" if deleting else None),
        spec=client.V1PodSpec(node_name="kwok-node-1", containers=[client.V1Container(
            name="odoo", ports=[client.V1ContainerPort(name=n, container_port=p) for n, p in ports])]),
        status=client.V1PodStatus(pod_ip=ip, phase="Running",
                                  conditions=[client.V1PodCondition(type="Ready", status=str(ready))]))


def test_loopback_slices_list_the_selected_pods_with_resolved_ports():
    web = {"app": "web"}
    service = _service(web, [{"name": "http", "port": 8069, "target_port": "http"},
                             {"name": "websocket", "port": 8072, "target_port": "websocket"}])
    pods = [_pod("web-1", "127.1.1.5", web, ports=(("http", 8069), ("websocket", 8072))),
            _pod("web-2", "127.1.2.5", web, ready=False, ports=(("http", 8069), ("websocket", 8072))),
            _pod("cron", "127.1.1.6", {"app": "cron"}),
            _pod("other-tenant", "127.1.3.5", web, namespace="tenant-b"),
            _pod("going", "127.1.1.7", web, deleting=True),
            _pod("invented", "10.0.0.5", web)]
    [endpoint_slice] = loopback_endpoints.desired_slices(service, pods)
    assert endpoint_slice["addressType"] == "FQDN"
    assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == "odoo"
    assert endpoint_slice["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    assert endpoint_slice["ports"] == [{"name": "http", "port": 8069, "protocol": "TCP"},
                                       {"name": "websocket", "port": 8072, "protocol": "TCP"}]
    assert [(e["addresses"], e["conditions"]["ready"], e["targetRef"]["name"]) for e in endpoint_slice["endpoints"]] == [
        (["127.1.1.5"], True, "web-1"), (["127.1.2.5"], False, "web-2")]


def test_a_service_without_ready_pods_gets_an_empty_slice_and_one_without_selector_none():
    assert loopback_endpoints.desired_slices(_service({"app": "web"}, [{"name": "http", "port": 8069}]), [])[0][
        "endpoints"] == []
    assert loopback_endpoints.desired_slices(_service(None, [{"name": "http", "port": 8069}]), []) == []
