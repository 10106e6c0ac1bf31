"""Objects a fresh MicroK8s node would already have: Nodes, the default StorageClass, and
Traefik's namespace, RBAC and IngressClass. Applied with server-side apply, idempotently."""

from __future__ import annotations

import time
from pathlib import Path

from kubernetes import client, config, dynamic

from . import pod_network, settings

FIELD_MANAGER = "odoo-saas-local-cluster"
TRAEFIK_NAMESPACE = "traefik"
STORAGE_CLASS = "microk8s-hostpath"
PROVISIONER = "microk8s.io/hostpath"


def api_client(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


def kwok_node(index: int, name: str) -> dict:
    """A Node kwok plays, its pods on 127.1.<index>.0/24."""
    pod_cidr = pod_network.node_pod_cidr(index)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "microk8s.io/cluster": "true",
            },
        },
        # Settable once (the node IPAM controller is off here): kwok takes pod IPs from it.
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "200Gi"},
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "200Gi"},
        },
    }


def objects() -> list[dict]:
    traefik_rules = [
        {"apiGroups": [""], "resources": ["services", "endpoints", "secrets", "nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["networking.k8s.io", "extensions"], "resources": ["ingresses", "ingressclasses"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["networking.k8s.io", "extensions"], "resources": ["ingresses/status"], "verbs": ["update"]},
    ]
    return [
        *(kwok_node(index, name) for index, name in enumerate(settings.NODE_NAMES, start=1)),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": TRAEFIK_NAMESPACE, "labels": {"app.kubernetes.io/name": "traefik"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "traefik", "namespace": TRAEFIK_NAMESPACE},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "traefik-ingress-controller"},
            "rules": traefik_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "traefik-ingress-controller"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "traefik-ingress-controller"},
            "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": TRAEFIK_NAMESPACE}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {
                "name": "traefik",
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
            },
            "spec": {"controller": "traefik.io/ingress-controller"},
        },
    ]


def apply(kubeconfig: Path) -> None:
    with api_client(kubeconfig) as api:
        dyn = dynamic.DynamicClient(api)
        for obj in objects():
            resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            namespace = obj["metadata"].get("namespace")
            status = obj.pop("status", None)
            resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=namespace,
                                       field_manager=FIELD_MANAGER, force_conflicts=True)
            if status is not None and obj["kind"] == "Node":
                _settle_node_sizes(resource, obj["metadata"]["name"], status)


def add_nodes(kubeconfig: Path, nodes) -> None:
    """More kwok Nodes, [(index, name)], each Ready with the platform's node sizes (the fleet bench)."""
    with api_client(kubeconfig) as api:
        resource = dynamic.DynamicClient(api).resources.get(api_version="v1", kind="Node")
        for index, name in nodes:
            obj = kwok_node(index, name)
            status = obj.pop("status")
            resource.server_side_apply(body=obj, name=name, field_manager=FIELD_MANAGER, force_conflicts=True)
            _settle_node_sizes(resource, name, status)


def remove_nodes(kubeconfig: Path, names) -> None:
    with api_client(kubeconfig) as api:
        core = client.CoreV1Api(api)
        for name in names:
            try:
                core.delete_node(name)
            except client.ApiException as error:
                if error.status != 404:
                    raise


def _settle_node_sizes(resource, name: str, status: dict, timeout: float = 60.0) -> None:
    """Give the Node our sizes and wait until kwok has initialised it with them.

    kwok's node-initialize stage keeps sizes a Node already has, but it writes the whole status
    from what its informer last saw: if it saw the Node before our patch, its write (with its
    defaults, 1k cpu and 1Ti) lands after ours. Once the Node is Ready that stage no longer
    applies, so Ready with our sizes is stable."""
    deadline = time.monotonic() + timeout
    while True:
        current = resource.get(name=name).to_dict().get("status") or {}
        sizes_ours = all(dict(current.get(key) or {}) == status[key] for key in ("allocatable", "capacity"))
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in current.get("conditions") or [])
        if sizes_ours and ready:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"Node {name} did not settle with the platform's sizes within {timeout:.0f} s "
                             f"(ready={ready}, capacity={current.get('capacity')}): is kwok running? see its log")
        if not sizes_ours:
            resource.status.patch(name=name, body={"status": status},
                                  content_type="application/merge-patch+json")
        time.sleep(0.2)


def service_account_token(kubeconfig: Path, namespace: str, name: str, seconds: int = 7 * 24 * 3600) -> str:
    with api_client(kubeconfig) as api:
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
            audiences=["https://kubernetes.default.svc.cluster.local"], expiration_seconds=seconds,
        ))
        response = client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
        return response.status.token
