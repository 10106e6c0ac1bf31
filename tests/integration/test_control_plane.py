"""The local control plane is real Kubernetes: each test fails if its component is missing
or misconfigured (wrong version, admission plugin off, RBAC off, no controllers, no kwok)."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.cluster import settings

from .conftest import gone, restricted_pod_spec, wait_for


def test_server_reports_the_pinned_version(api):
    version = client.VersionApi(api).get_code()
    assert version.git_version == settings.KUBERNETES_VERSION


def test_three_kwok_nodes_are_ready(core):
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert set(settings.NODE_NAMES) <= set(nodes)
    for name in settings.NODE_NAMES:
        conditions = {c.type: c.status for c in nodes[name].status.conditions}
        assert conditions.get("Ready") == "True", f"{name} is not Ready: {conditions}"


def _privileged_pod():
    spec = restricted_pod_spec()
    spec["containers"][0]["securityContext"] = {"privileged": True}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"}, "spec": spec}


def test_pod_security_restricted_refuses_a_privileged_pod(core, namespace):
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(namespace, _privileged_pod())
    assert refused.value.status == 403
    assert "violates PodSecurity" in refused.value.body
    # The same spec minus privileged passes, so the refusal came from Pod Security itself.
    allowed = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "compliant"}, "spec": restricted_pod_spec()}
    core.create_namespaced_pod(namespace, allowed)


def test_resource_quota_refuses_an_object_over_quota(core, namespace):
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"configmaps": "2"}}}
    core.create_namespaced_resource_quota(namespace, quota)
    # The quota controller must first count what exists (kube-root-ca.crt is one ConfigMap).
    wait_for(lambda: (core.read_namespaced_resource_quota("q", namespace).status.used or {}).get("configmaps"), 30,
             "the quota controller to count usage")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "first"}})
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "second"}})
    assert refused.value.status == 403
    assert "exceeded quota" in refused.value.body


def test_limit_ranger_applies_default_resources(core, namespace):
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
              "spec": {"limits": [{"type": "Container", "default": {"cpu": "300m", "memory": "128Mi"},
                                   "defaultRequest": {"cpu": "50m", "memory": "64Mi"}}]}}
    core.create_namespaced_limit_range(namespace, limits)
    spec = restricted_pod_spec()
    del spec["containers"][0]["resources"]
    pod = core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    resources = pod.spec.containers[0].resources
    assert resources.limits == {"cpu": "300m", "memory": "128Mi"}
    assert resources.requests == {"cpu": "50m", "memory": "64Mi"}


def _access(api, namespace: str, user: str, verb: str, resource: str) -> bool:
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource)))
    return client.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed


def test_rbac_denies_a_service_account_without_a_role_binding(api, core, namespace, kubeconfig):
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
    user = f"system:serviceaccount:{namespace}:robot"
    assert not _access(api, namespace, user, "list", "secrets")

    # And a real request with the account's own token is refused by the API server.
    token = core.create_namespaced_service_account_token(
        "robot", namespace, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    ).status.token
    configuration = client.Configuration()
    configuration.host = api.configuration.host
    configuration.ssl_ca_cert = api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as robot:
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(robot).list_namespaced_secret(namespace)
        assert denied.value.status == 403

        # Granting a Role makes the same request pass: the denial was RBAC's decision.
        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(namespace, {"metadata": {"name": "read-secrets"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]})
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": "robot-reads-secrets"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}]})
        wait_for(lambda: client.CoreV1Api(robot).list_namespaced_secret(namespace) is not None, 10, "RBAC to allow")


def _deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": restricted_pod_spec()}},
    }


def test_deployment_pods_become_ready_and_are_garbage_collected(api, core, namespace):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, _deployment("web", 2))
    wait_for(lambda: apps.read_namespaced_deployment("web", namespace).status.ready_replicas == 2, 60,
             "2 ready replicas (scheduler + kwok)")
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert {p.spec.node_name for p in pods} <= set(settings.NODE_NAMES)
    assert all(p.status.phase == "Running" for p in pods)

    apps.delete_namespaced_deployment("web", namespace)
    wait_for(lambda: not core.list_namespaced_pod(namespace, label_selector="app=web").items, 60,
             "the garbage collector to remove the Deployment's pods")


def test_job_completes(api, namespace):
    batch = client.BatchV1Api(api)
    spec = restricted_pod_spec()
    spec["restartPolicy"] = "Never"
    batch.create_namespaced_job(namespace, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
                                            "spec": {"backoffLimit": 0, "template": {"spec": spec}}})
    wait_for(lambda: batch.read_namespaced_job("once", namespace).status.succeeded == 1, 60, "the Job to complete")


def test_persistent_volume_claim_binds_for_a_pod(core, namespace):
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    spec = restricted_pod_spec()
    spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"}, "spec": spec})
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("data", namespace).status.phase == "Bound", 60,
             "the claim to bind (default StorageClass + provisioner)")
    volume = core.read_namespaced_persistent_volume_claim("data", namespace).spec.volume_name
    wait_for(lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running", 60, "the pod to run")

    core.delete_namespaced_pod("user", namespace, grace_period_seconds=0)
    wait_for(lambda: not core.list_namespaced_pod(namespace).items, 60, "the pod to go")
    core.delete_namespaced_persistent_volume_claim("data", namespace)

    wait_for(lambda: gone(core.read_persistent_volume, volume), 60,
             "the released volume to be deleted (reclaim policy Delete)")


def test_deleted_namespace_finishes_terminating(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "leftover"}})
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                           "spec": restricted_pod_spec()})
    wait_for(lambda: core.read_namespaced_pod("p", namespace).status.phase == "Running", 60, "the pod to run")
    core.delete_namespace(namespace)

    wait_for(lambda: gone(core.read_namespace, namespace), 90, "the namespace controller to finish deleting the namespace")
