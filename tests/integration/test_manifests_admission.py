"""The tenant manifests against the real API server: every object is accepted (schema with
strict field validation, Pod Security `restricted`, ResourceQuota and LimitRange admission),
the workloads come up (kwok plays the kubelets), re-applying changes nothing, suspension
scales to zero, and the namespace is deleted to the last object."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.tenant import DatabaseTarget, TenantSecrets

from .conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
PLANS = yaml.safe_load((REPO / "group_vars" / "all" / "plans.yml").read_text())["odoo_saas_plans"]
PLATFORM = specs.load_platform({"environment": "local", "base_domain": "127.0.0.1.nip.io", "plans": PLANS})
WORKLOADS = ("StatefulSet", "Job", "Deployment")
FIELD_MANAGER = "test"


@pytest.fixture(scope="module")
def dyn(api):
    return dynamic.DynamicClient(api)


def _apply(dyn, obj, **kwargs):
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    return dyn.server_side_apply(resource, body=obj, field_manager=FIELD_MANAGER, force_conflicts=True,
                                 query_params=[("fieldValidation", "Strict")], **kwargs)


def _build(name, plan, suspended=False):
    spec = specs.build_spec({"name": name, "plan": plan, "domains": [f"www.{name}.example"]}, PLATFORM)
    if spec.db_strategy == "dedicated":
        database = DatabaseTarget("dedicated", "postgres", 5432, spec.database, spec.role, spec.namespace)
    else:
        database = DatabaseTarget("postgres-shared-1", "postgres.postgres-shared-1.svc.cluster.local", 5432,
                                  spec.database, spec.role, "postgres-shared-1")
    secrets = TenantSecrets(f"db-{uuid.uuid4().hex}", f"admin-{uuid.uuid4().hex}", f"pg-{uuid.uuid4().hex}")
    return spec, manifests.tenant_objects(spec, PLATFORM, database, secrets, suspended=suspended)


def _events(core, namespace):
    events = core.list_namespaced_event(namespace).items
    return "; ".join(f"{e.involved_object.kind}/{e.involved_object.name}: {e.reason}: {e.message}" for e in events[-15:])


def _wait(core, namespace, check, timeout, what):
    try:
        return wait_for(check, timeout, what)
    except AssertionError as error:
        raise AssertionError(f"{error}; recent events: {_events(core, namespace)}") from None


def _spec_version(obj):
    if obj.kind in ("ResourceQuota", "PersistentVolumeClaim"):
        return "status-driven"
    return obj.metadata.generation or obj.metadata.resourceVersion


def _dry_run_pods(core, namespace, workloads):
    """Each workload's pod, created with dryRun: Pod Security and quota/limit admission
    speak for themselves here (a controller would only log them in events)."""
    for workload in workloads:
        template = workload["spec"]["template"]
        spec = dict(template["spec"])
        # A StatefulSet's claims become volumes of its pods (data-postgres-0 for `data`).
        spec["volumes"] = spec.get("volumes", []) + [
            {"name": t["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{t['metadata']['name']}-{workload['metadata']['name']}-0"}}
            for t in workload["spec"].get("volumeClaimTemplates", [])]
        meta = {"name": f"dry-{workload['metadata']['name']}", "labels": template["metadata"]["labels"]}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        try:
            core.create_namespaced_pod(namespace, pod, dry_run="All")
        except ApiException as error:
            pytest.fail(f"{workload['kind']}/{workload['metadata']['name']}: pod refused: {error.body}")


def _delete_namespace(core, namespace):
    try:
        core.delete_namespace(namespace)
    except ApiException as error:
        if error.status != 404:
            raise

    def gone():
        try:
            core.read_namespace(namespace)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return False
    wait_for(gone, 180, f"namespace {namespace} to be deleted")


@pytest.mark.parametrize("plan", ["small", "large"], ids=["shared", "dedicated"])
def test_tenant_objects_are_admitted_and_come_up(api, core, dyn, plan):
    name = f"mf-{uuid.uuid4().hex[:8]}"
    spec, objects = _build(name, plan)
    namespace = spec.namespace
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
    first_workload = next(i for i, o in enumerate(objects) if o["kind"] in WORKLOADS)
    try:
        for obj in objects[:first_workload]:
            _apply(dyn, obj)
            if obj["kind"] == "ResourceQuota":
                # Let the quota controller compute usage before anything it counts is created
                # (older API servers refuse those with "status unknown for quota").
                _wait(core, namespace, lambda: core.read_namespaced_resource_quota("tenant-quota", namespace).status.hard,
                      30, "the quota controller to compute tenant-quota")
        # The postgres pods run as the namespace's `default` ServiceAccount.
        _wait(core, namespace, lambda: core.read_namespaced_service_account("default", namespace), 30, "the default ServiceAccount")
        _dry_run_pods(core, namespace, [o for o in objects if o["kind"] in WORKLOADS])
        for obj in objects[first_workload:]:
            _apply(dyn, obj)

        # Everything we wrote is what the server holds; applying again writes nothing.
        # Compared by generation (spec changes only) where the kind has one: controllers keep
        # writing the status of quotas, claims and workloads between the two applies.
        versions = {(o["kind"], o["metadata"]["name"]): _spec_version(_apply(dyn, o)) for o in objects}
        again = {(o["kind"], o["metadata"]["name"]): _spec_version(_apply(dyn, o)) for o in objects}
        assert again == versions, "re-applying identical objects changed: " + ", ".join(
            f"{k[0]}/{k[1]}" for k in versions if versions[k] != again[k])

        replicas = spec.plan.replicas
        _wait(core, namespace, lambda: batch.read_namespaced_job_status("odoo-db-init", namespace).status.succeeded == 1,
              120, "the init Job to complete")
        _wait(core, namespace, lambda: apps.read_namespaced_deployment_status("odoo-web", namespace).status.ready_replicas == replicas,
              120, f"{replicas} ready odoo-web replica(s)")
        _wait(core, namespace, lambda: apps.read_namespaced_deployment_status("odoo-cron", namespace).status.ready_replicas == 1,
              120, "a ready odoo-cron replica")
        if spec.db_strategy == "dedicated":
            _wait(core, namespace, lambda: apps.read_namespaced_stateful_set_status("postgres", namespace).status.ready_replicas == 1,
                  120, "a ready dedicated postgres")
            assert core.read_namespaced_persistent_volume_claim("data-postgres-0", namespace).status.phase == "Bound"
        assert core.read_namespaced_persistent_volume_claim("odoo-filestore", namespace).status.phase == "Bound"

        # Every Odoo pod shares the ReadWriteOnce filestore, so they all run on one node.
        pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/name=odoo").items
        assert len({p.spec.node_name for p in pods}) == 1, [(p.metadata.name, p.spec.node_name) for p in pods]
        # Pod Security admitted them with the restricted profile, unchanged.
        labels = core.read_namespace(namespace).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        used = core.read_namespaced_resource_quota("tenant-quota", namespace).status.used
        assert int(used["pods"]) >= replicas + 1

        # Suspension: the same objects with zero replicas; the workloads' pods go away.
        suspended = _build(name, plan, suspended=True)[1]
        for obj in suspended:
            if obj["kind"] in ("Deployment", "StatefulSet"):
                _apply(dyn, obj)
        for kind, workload in manifests.workload_names(spec):
            read = apps.read_namespaced_deployment if kind == "Deployment" else apps.read_namespaced_stateful_set
            assert read(workload, namespace).spec.replicas == 0

        def no_running_pods():
            pods = core.list_namespaced_pod(namespace).items
            return not [p for p in pods if p.status.phase not in ("Succeeded", "Failed")]
        _wait(core, namespace, no_running_pods, 120, "the suspended tenant's pods to stop")
    finally:
        _delete_namespace(core, namespace)


def test_shared_servers_admit_only_tenant_and_platform_namespaces(dyn):
    """playbooks/platform.yml (run by `make test` before the tests) applied each shared server's
    policy; the live object is the one the manifests define."""
    for server in ("postgres-shared-1", "postgres-shared-2"):
        policy = manifests.shared_server_policy(server, dataclasses.replace(PLATFORM, platform_namespace="saas-dev"))
        live = dyn.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy").get(
            name=policy["metadata"]["name"], namespace=server).to_dict()
        assert live["spec"]["podSelector"] == {} and live["spec"]["policyTypes"] == ["Ingress"]
        peers = [peer["namespaceSelector"] for rule in live["spec"]["ingress"] for peer in rule["from"]]
        assert peers == [{"matchLabels": {"odoo-saas.io/role": "tenant"}},
                         {"matchLabels": {"kubernetes.io/metadata.name": "saas-dev"}}]  # inventories/local
