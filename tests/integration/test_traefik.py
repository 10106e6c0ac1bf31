"""The real Traefik binary builds routers from our Ingresses (read on its loopback API)."""

from __future__ import annotations

from kubernetes import client

from tests.cluster import traefik

from .conftest import restricted_pod_spec, wait_for


def test_traefik_lists_a_router_for_an_ingress(api, core, namespace):
    host = f"{namespace}.127.0.0.1.nip.io"
    labels = {"app": "web"}
    client.AppsV1Api(api).create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": restricted_pod_spec()}}})
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "web"},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 8069, "targetPort": 8069}]}})
    client.NetworkingV1Api(api).create_namespaced_ingress(namespace, {
        "metadata": {"name": "web"},
        "spec": {"ingressClassName": "traefik", "rules": [{"host": host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 8069}}}}]}}]}})

    def router():
        # Traefik 3 writes the rule as Host("h") or Host(`h`) depending on its rule syntax.
        return [r for r in traefik.routers()
                if any(f"Host({q}{host}{q})" in r.get("rule", "") for q in ('"', "`"))]

    found = wait_for(router, 60, f"a Traefik router for {host}")
    assert found[0]["status"] == "enabled"
    assert found[0]["provider"] == "kubernetes"


def test_traefik_ignores_an_ingress_of_another_class(api, core, namespace):
    host = f"other-{namespace}.127.0.0.1.nip.io"
    client.NetworkingV1Api(api).create_namespaced_ingress(namespace, {
        "metadata": {"name": "elsewhere"},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [{
            "path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    # A router for a traefik-class Ingress created after it shows Traefik has caught up.
    test_traefik_lists_a_router_for_an_ingress(api, core, namespace)
    assert not [r for r in traefik.routers() if host in r.get("rule", "")]
