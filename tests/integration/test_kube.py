"""The apply engine against the real API server: created, unchanged without a request,
updated, drift repaired, check mode writes nothing, deletion waits."""

from __future__ import annotations

import uuid

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import DependencyError
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube, KubeError

from .conftest import restricted_pod_spec


@pytest.fixture
def kube(kubeconfig):
    engine = Kube.connect(kubeconfig=str(kubeconfig))
    yield engine
    engine.close()


def _objects(namespace, replicas=1, secret="s3cret"):
    labels = {"app": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": namespace},
         "type": "Opaque", "stringData": {"password": secret}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": namespace},
         "spec": {"hard": {"requests.memory": "1Gi", "pods": "5"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": restricted_pod_spec()}}},
    ]


def _resource_versions(kube, namespace):
    """Generation where the kind has one (controllers keep writing status), else resourceVersion;
    the quota's status is the quota controller's, so it is left out."""
    versions = {}
    for o in _objects(namespace):
        if o["kind"] == "ResourceQuota":
            continue
        meta = kube.get(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))["metadata"]
        versions[(o["kind"], o["metadata"]["name"])] = meta.get("generation") or meta["resourceVersion"]
    return versions


def test_apply_is_idempotent_and_a_rerun_sends_no_write(kube):
    namespace = f"kube-test-{uuid.uuid4().hex[:6]}"
    try:
        first = kube.apply_all(_objects(namespace))
        assert [c.action for c in first] == ["created"] * 4
        versions = _resource_versions(kube, namespace)
        kube.requests.clear()
        second = kube.apply_all(_objects(namespace))
        assert [c.action for c in second] == ["unchanged"] * 4
        assert kube.requests == {"get": 4}, "an unchanged object costs one GET and no write"
        assert _resource_versions(kube, namespace) == versions

        kube.requests.clear()
        checked = kube.apply_all(_objects(namespace, replicas=2), check_mode=True)
        assert [c.action for c in checked] == ["unchanged", "unchanged", "unchanged", "updated"]
        assert checked[3].before["spec"]["replicas"] == 1 and checked[3].after["spec"]["replicas"] == 2
        live = kube.get("apps/v1", "Deployment", "web", namespace)
        assert live["spec"]["replicas"] == 1, "check mode must not change the object"

        updated = kube.apply_all(_objects(namespace, replicas=2))
        assert [c.action for c in updated][3] == "updated"
        assert kube.get("apps/v1", "Deployment", "web", namespace)["spec"]["replicas"] == 2
    finally:
        kube.delete("v1", "Namespace", namespace)
        kube.wait_gone("v1", "Namespace", namespace, timeout=90)


def test_drift_made_by_hand_is_detected_and_repaired(kube):
    namespace = f"kube-test-{uuid.uuid4().hex[:6]}"
    try:
        kube.apply_all(_objects(namespace))
        kube.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/web",
                     body={"spec": {"replicas": 3}}, content_type="application/merge-patch+json")
        repaired = kube.apply_all(_objects(namespace))
        assert [c.action for c in repaired][3] == "updated"
        assert kube.get("apps/v1", "Deployment", "web", namespace)["spec"]["replicas"] == 1
    finally:
        kube.delete("v1", "Namespace", namespace)


def test_check_mode_for_a_new_namespace_creates_nothing(kube):
    namespace = f"kube-test-{uuid.uuid4().hex[:6]}"
    changes = kube.apply_all(_objects(namespace), check_mode=True)
    assert [c.action for c in changes] == ["created"] * 4
    assert kube.get("v1", "Namespace", namespace) is None


def test_refusals_name_the_object_and_reason(kube):
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Not_Valid"}}
    with pytest.raises(KubeError, match=r"namespaces/Not_Valid refused \(422\)"):
        kube.apply(bad)


def test_an_unreachable_api_server_names_the_dependency():
    engine = Kube.connect(host="https://127.0.0.1:1", validate_certs=False)
    engine.api.configuration.retries = 0
    with pytest.raises(DependencyError, match="127.0.0.1:1.*cannot be reached"):
        engine.get("v1", "Namespace", "default")
