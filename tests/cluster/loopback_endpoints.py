"""Publishes Services' loopback pod addresses as EndpointSlices that Traefik can use.

kwok gives pods loopback addresses (pod_network), but the API server refuses loopback
addresses in IPv4 EndpointSlices and Endpoints ("may not be in the loopback range"), so the
endpointslice controller cannot publish them and Traefik would find no server. An
EndpointSlice of addressType FQDN is validated as a host name instead, and a dotted quad
passes: this writes, for each Service with a selector, one such slice listing the matching
pods' addresses, readiness and resolved target ports, as the endpointslice controller would.
It stands in for that controller only for addresses it cannot publish; Traefik reads the
slices like any others (label kubernetes.io/service-name), and the Service owns them, so they
go with it. `python -m tests.cluster up` runs it as a daemon, for every namespace:

    python -m tests.cluster.loopback_endpoints KUBECONFIG [NAMESPACE ...]
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from kubernetes import client

from . import bootstrap, pod_network

MANAGED_BY = "loopback-endpoints.odoo-saas.local"
FIELD_MANAGER = "odoo-saas-loopback-endpoints"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


def _matches(selector: dict, labels: dict | None) -> bool:
    return all((labels or {}).get(key) == value for key, value in selector.items())


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _target_port(service_port, pod) -> int | None:
    target = service_port.target_port if service_port.target_port is not None else service_port.port
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod.spec.containers:
        for port in container.ports or []:
            if port.name == target and (port.protocol or "TCP") == (service_port.protocol or "TCP"):
                return port.container_port
    return None


def desired_slices(service, pods: Iterable) -> list[dict]:
    """The slices for one Service: one per distinct set of resolved ports (usually one)."""
    selector = service.spec.selector
    if not selector:
        return []
    groups: dict[tuple, list] = {}
    for pod in pods:
        if (pod.metadata.namespace != service.metadata.namespace or pod.metadata.deletion_timestamp
                or not pod.status.pod_ip or not pod_network.is_loopback(pod.status.pod_ip)
                or pod.status.phase in ("Succeeded", "Failed") or not _matches(selector, pod.metadata.labels)):
            continue
        ports = tuple((p.name or "", _target_port(p, pod), p.protocol or "TCP") for p in service.spec.ports or [])
        ports = tuple(port for port in ports if port[1] is not None)
        groups.setdefault(ports, []).append(pod)
    groups = groups or {(): []}
    name = service.metadata.name
    return [{
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-loopback-{index}",
            "namespace": service.metadata.namespace,
            "labels": {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": service.metadata.uid,
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "addressType": "FQDN",
        "ports": [{"name": port_name, "port": port, "protocol": protocol} for port_name, port, protocol in ports],
        "endpoints": [{
            "addresses": [pod.status.pod_ip],
            "conditions": {"ready": _ready(pod), "serving": _ready(pod), "terminating": False},
            "nodeName": pod.spec.node_name,
            "targetRef": {"kind": "Pod", "namespace": pod.metadata.namespace, "name": pod.metadata.name,
                          "uid": pod.metadata.uid},
        } for pod in sorted(members, key=lambda p: p.metadata.name)],
    } for index, (ports, members) in enumerate(sorted(groups.items()))]


def sync(api: client.ApiClient, namespaces: Iterable[str] | None = None) -> None:
    """One pass: write every wanted slice, delete this writer's slices nobody wants."""
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    selector = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
    if namespaces is None:
        scopes = [(core.list_service_for_all_namespaces().items, core.list_pod_for_all_namespaces().items,
                   discovery.list_endpoint_slice_for_all_namespaces(label_selector=selector).items)]
    else:
        scopes = [(core.list_namespaced_service(ns).items, core.list_namespaced_pod(ns).items,
                   discovery.list_namespaced_endpoint_slice(ns, label_selector=selector).items) for ns in namespaces]
    for services, pods, existing in scopes:
        wanted = {}
        for service in services:
            for endpoint_slice in desired_slices(service, pods):
                wanted[(endpoint_slice["metadata"]["namespace"], endpoint_slice["metadata"]["name"])] = endpoint_slice
        for (namespace, name), body in wanted.items():
            _ignore_gone(lambda n=namespace, s=name, b=body: discovery.patch_namespaced_endpoint_slice(
                s, n, b, field_manager=FIELD_MANAGER, force=True, _content_type="application/apply-patch+yaml"))
        for endpoint_slice in existing:
            key = (endpoint_slice.metadata.namespace, endpoint_slice.metadata.name)
            if key not in wanted:
                _ignore_gone(lambda k=key: discovery.delete_namespaced_endpoint_slice(k[1], k[0]))


def _ignore_gone(call) -> None:
    try:
        call()
    except client.ApiException as error:
        # The namespace or Service went away meanwhile (404), or the namespace is terminating (403).
        if error.status not in (403, 404, 409):
            raise


def run(api: client.ApiClient, stop: threading.Event, namespaces: Iterable[str] | None = None,
        interval: float = 1.0) -> None:
    """Sync until stop is set; namespaces may be a set that grows while this runs."""
    while not stop.is_set():
        try:
            sync(api, None if namespaces is None else list(namespaces))
        except Exception as error:  # noqa: BLE001 (a restarting API server must not end the loop)
            print(f"loopback endpoints: sync failed, retrying: {error}", file=sys.stderr)
        stop.wait(interval)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with bootstrap.api_client(Path(argv[0])) as api:
        run(api, threading.Event(), argv[1:] or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
