"""What the tenants' NetworkPolicies allow, as np-guard's netpol-analyzer reads them.

The live objects (Namespaces, workloads, Services, Ingresses, NetworkPolicies) are written to
a directory and `netpolicy list` computes every allowed connection between the workloads.
On the local platform the shared PostgreSQL servers, Traefik and DNS run outside the kwok
cluster, so their namespaces hold no workloads: stand-ins with the labels the real ones carry
(roles/postgres_shared/templates/server.yml.j2, the Traefik chart, CoreDNS) take their place.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client

from tests.cluster import build

# (namespace, name, pod labels, container ports) of the platform's workloads.
STAND_INS = (
    ("postgres-shared-1", "postgres", {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "postgres-shared-1",
                                       "app.kubernetes.io/component": "database"}, (("TCP", 5432),)),
    ("postgres-shared-2", "postgres", {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "postgres-shared-2",
                                       "app.kubernetes.io/component": "database"}, (("TCP", 5432),)),
    ("traefik", "traefik", {"app.kubernetes.io/name": "traefik"}, (("TCP", 8000), ("TCP", 8443))),
    ("kube-system", "coredns", {"k8s-app": "kube-dns"}, (("UDP", 53), ("TCP", 53))),
    ("saas-dev", "platform", {"app.kubernetes.io/name": "odoo-saas-platform"}, ()),
)
EXTERNAL = "0.0.0.0-255.255.255.255"
INGRESS_CONTROLLER = "{ingress-controller}"


@dataclass(frozen=True, order=True)
class Connection:
    src: str  # "namespace/name[Kind]", an IP range, or {ingress-controller}
    dst: str
    conn: str  # "TCP 8069", "All Connections", "TCP 53,UDP 53" ...

    @staticmethod
    def namespace_of(peer):
        return peer.split("/", 1)[0] if "/" in peer and not peer.startswith("{") else None


def analyser():
    """The netpolicy binary, built from the pinned Go module on first use."""
    return build.ensure(build.NETPOL_ANALYZER) / "netpolicy"


def _plain(api, obj, api_version, kind):
    data = api.sanitize_for_serialization(obj)
    data["apiVersion"], data["kind"] = api_version, kind
    data.pop("status", None)
    metadata = data["metadata"]
    for noise in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "annotations"):
        metadata.pop(noise, None)
    return data


def _stand_in(namespace, name, labels, ports):
    container = {"name": name, "image": "registry.invalid/stand-in:1",
                 "ports": [{"containerPort": port, "protocol": protocol} for protocol, port in ports]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def dump(api, tenant_namespaces, directory: Path):
    """Write what the analyser reads; returns the number of objects written by kind."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    batch, networking = client.BatchV1Api(api), client.NetworkingV1Api(api)
    platform_namespaces = sorted({namespace for namespace, *_rest in STAND_INS})
    namespaces = sorted(tenant_namespaces) + platform_namespaces
    objects = [_plain(api, core.read_namespace(name), "v1", "Namespace") for name in namespaces]
    for namespace in namespaces:
        listings = (
            (apps.list_namespaced_deployment, "apps/v1", "Deployment"),
            (apps.list_namespaced_stateful_set, "apps/v1", "StatefulSet"),
            (batch.list_namespaced_job, "batch/v1", "Job"),
            (core.list_namespaced_service, "v1", "Service"),
            (networking.list_namespaced_ingress, "networking.k8s.io/v1", "Ingress"),
            (networking.list_namespaced_network_policy, "networking.k8s.io/v1", "NetworkPolicy"),
        )
        for listing, api_version, kind in listings:
            objects.extend(_plain(api, obj, api_version, kind) for obj in listing(namespace).items)
    objects.extend(_stand_in(*stand_in) for stand_in in STAND_INS)
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for index, obj in enumerate(objects):
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
        (directory / f"{index:04d}-{obj['kind'].lower()}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
    return counts


def allowed_connections(directory: Path):
    """Every connection the policies allow between the dumped workloads (and the outside),
    and the analyser's warnings. (Its --fail treats the warning about Ingress backends that
    only Traefik's namespace may reach as an error, so errors are looked for in the log.)"""
    answer = subprocess.run([str(analyser()), "list", "--dirpath", str(directory), "-o", "json"],
                            capture_output=True, text=True, timeout=300, check=False)
    warnings = [line for line in answer.stderr.splitlines() if line.strip()]
    errors = [line for line in warnings if "error" in line.lower()]
    if answer.returncode != 0 or errors:
        raise AssertionError(f"netpolicy list failed (exit {answer.returncode}): {answer.stderr[-3000:]}")
    connections = sorted(Connection(entry["src"], entry["dst"], entry["conn"]) for entry in json.loads(answer.stdout))
    return connections, warnings


def address_ranges(peer):
    """The addresses an analyser peer stands for, as [(first, last)]: '1.2.3.0-1.2.3.255' (several
    joined by ','), or a single address; [] for a workload or the ingress controller."""
    ranges = []
    for part in peer.split(","):
        first, _sep, last = part.strip().partition("-")
        try:
            ranges.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
        except ValueError:
            return []
    return ranges


def allows(conn, protocol, port):
    """Whether an analyser connection ('All Connections', 'TCP 25,443', 'TCP 1-100,UDP 53')
    includes protocol/port."""
    if conn == "All Connections":
        return True
    current = None
    for token in conn.replace(" ", ",").split(","):
        if not token:
            continue
        if token.isalpha():
            current = token
        elif current == protocol:
            low, _sep, high = token.partition("-")
            if int(low) <= port <= int(high or low):
                return True
    return False


def reaches(connections, src, address, protocol, port):
    """Whether the analysed policies let workload `src` open address:port outside the cluster."""
    target = ipaddress.ip_address(address)
    return any(c.src == src and allows(c.conn, protocol, port)
               and any(first.version == target.version and first <= target <= last for first, last in address_ranges(c.dst))
               for c in connections)
