"""The tenant modules run as the automation's ServiceAccount, with exactly the access
roles/saas_system grants (its own template, installed on the local control plane): a whole
tenant lifecycle works, and what lies outside tenant namespaces stays out of reach."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube, KubeError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info

from . import automation_rbac, tenants
from .test_playbooks import playbook, recap_changed
from .conftest import gone

pytestmark = pytest.mark.alone  # see tests/conftest.py

PLATFORM_NAMESPACE = "saas-dev"  # the local inventory's, where the tenant module looks for its account
BINDING = "odoo-saas-automation"


@pytest.fixture(scope="module")
def automation(api):
    """Module parameters that authenticate as the automation, with its RBAC and policy installed."""
    with automation_rbac.installed(api, PLATFORM_NAMESPACE) as params:
        yield params


@pytest.fixture
def as_automation(ledger_db, tmp_path, automation):
    def build(name, **overrides):
        return tenants.params(ledger_db, tmp_path / "backups", name=name, **automation, **overrides)
    return build


@pytest.fixture
def automation_kube(automation):
    kube = Kube.connect(host=automation["host"], api_key=automation["api_key"], ca_cert=automation["ca_cert"])
    yield kube
    kube.close()


def _binding(api, namespace):
    try:
        return client.RbacAuthorizationV1Api(api).read_namespaced_role_binding(BINDING, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def test_a_whole_lifecycle_runs_with_the_automations_rights_only(api, core, as_automation, ledger_db):
    name = tenants.unique("rbac")
    namespace = f"tenant-{name}"

    result, failure = tenants.tenant(as_automation(name, plan="small"), check_mode=True)
    assert failure is None, failure
    assert f"created RoleBinding {namespace}/{BINDING}" in result["actions"]
    assert gone(core.read_namespace, namespace), "check mode created the namespace"

    result, failure = tenants.tenant(as_automation(name, plan="small"))
    assert failure is None, failure
    assert result["tenant"]["state"] == "active"
    assert result["actions"][1:3] == [f"created Namespace {namespace}", f"created RoleBinding {namespace}/{BINDING}"]
    subject = _binding(api, namespace).subjects[0]
    assert (subject.kind, subject.name, subject.namespace) == ("ServiceAccount", BINDING, PLATFORM_NAMESPACE)

    result, failure = tenants.tenant(as_automation(name, plan="small"))
    assert failure is None, failure
    assert not result["changed"], result["actions"]
    assert set(result["api_requests"]) == {"get"}, result["api_requests"]

    for state in ("suspended", "present"):
        result, failure = tenants.tenant(as_automation(name, state=state))
        assert failure is None, f"{state}: {failure}"

    info, failure = run_tenant_info(as_automation(name))
    assert failure is None, failure
    assert info["tenants"][0]["drift"] == [], info["tenants"][0]

    result, failure = tenants.tenant(as_automation(name, state="absent", confirm=name))
    assert failure is None, failure
    assert result["tenant"]["state"] == "deleted"
    assert result["tenant"]["backup"]["location"], "the removal took no backup"
    assert result["tenant"]["backup"]["filestore"]["sha256"], "the filestore was not archived"
    assert gone(core.read_namespace, namespace)


def test_the_automation_restores_a_binding_lost_from_a_tenant_namespace(api, as_automation, ledger_db, tmp_path):
    """A tenant made before the per-namespace binding existed (or whose binding was deleted by hand)."""
    name = tenants.unique("rbac")
    namespace = f"tenant-{name}"
    _result, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="small"))
    assert failure is None, failure
    client.RbacAuthorizationV1Api(api).delete_namespaced_role_binding(BINDING, namespace)

    result, failure = tenants.tenant(as_automation(name, plan="small"))
    assert failure is None, failure
    assert f"created RoleBinding {namespace}/{BINDING}" in result["actions"]
    assert not [action for action in result["actions"] if action.startswith("created") and "RoleBinding" not in action]
    assert _binding(api, namespace) is not None


@pytest.mark.parametrize("method, path, body, reason", [
    ("GET", "/api/v1/namespaces/kube-system/secrets", None, "forbidden"),
    ("GET", f"/api/v1/namespaces/{PLATFORM_NAMESPACE}/secrets", None, "forbidden"),
    ("GET", "/api/v1/namespaces/postgres-shared-1/secrets/postgres", None, "forbidden"),
    ("POST", "/api/v1/namespaces/kube-system/serviceaccounts/default/token", {"spec": {}}, "forbidden"),
    ("DELETE", "/api/v1/namespaces/postgres-shared-1", None, "only namespaces named tenant-"),
    ("DELETE", f"/api/v1/namespaces/{PLATFORM_NAMESPACE}", None, "only namespaces named tenant-"),
    ("POST", "/api/v1/namespaces", {"metadata": {"name": "kube-evil", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}}, "only namespaces named tenant-"),
    ("POST", "/api/v1/namespaces", {"metadata": {"name": "tenant-evil"}}, "keeps Pod Security"),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings", {
        "metadata": {"name": "evil"}, "subjects": [{"kind": "ServiceAccount", "name": BINDING, "namespace": PLATFORM_NAMESPACE}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "odoo-saas-tenant"}},
     "only bind ClusterRole"),
    ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": "evil"}, "subjects": [{"kind": "ServiceAccount", "name": BINDING, "namespace": PLATFORM_NAMESPACE}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}}, "forbidden"),
    # Nodes are read (a plan's fit), never written; events are read in tenant namespaces only.
    ("DELETE", "/api/v1/nodes/kwok-node-1", None, "forbidden"),
    ("GET", "/api/v1/namespaces/kube-system/events", None, "forbidden"),
    ("DELETE", "/api/v1/namespaces/kube-system/pods/any", None, "forbidden"),
])
def test_what_lies_outside_tenant_namespaces_is_refused(automation_kube, method, path, body, reason):
    """Each sent as the automation, as a dry run where it would write."""
    query = {"dryRun": "All"} if method != "GET" else None
    with pytest.raises(KubeError) as refused:
        automation_kube.request(method, path, body=body, query=query)
    assert "(403)" in str(refused.value)
    assert reason in str(refused.value)


def test_the_automation_reads_the_nodes_a_plan_must_fit(as_automation, core):
    plans = copy.deepcopy(tenants.raw_plans())
    plans["huge"] = {**plans["small"], "memory": "512Gi", "quota": {**plans["small"]["quota"], "memory": "4Ti"}}
    name = tenants.unique("rbac")
    result, failure = tenants.tenant(as_automation(name, plan="huge", plans=plans))
    assert failure is not None and failure.startswith("plans.huge.memory: "), (failure, result.get("warnings"))
    assert gone(core.read_namespace, f"tenant-{name}")


def test_a_tenant_namespace_without_its_binding_is_out_of_reach(core, automation_kube):
    """The binding is the automation's only way in: RBAC grants nothing inside tenant namespaces by itself."""
    namespace = tenants.unique("tenant-rbac")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=namespace, labels={"pod-security.kubernetes.io/enforce": "restricted"})))
    try:
        for kind, api_version in (("Secret", "v1"), ("ConfigMap", "v1"), ("Deployment", "apps/v1")):
            with pytest.raises(KubeError, match=r"\(403\)"):
                automation_kube.get(api_version, kind, "odoo", namespace)
        assert automation_kube.get("v1", "Namespace", namespace) is not None  # cluster-wide: namespaces only
    finally:
        core.delete_namespace(namespace)


def test_a_removal_finishes_in_a_namespace_already_terminating(api, core, as_automation):
    """Deleted by hand (or by a removal killed while waiting): the namespace controller has removed
    the automation's RoleBinding while a finalizer holds the namespace. The removal must still take
    the database backup, drop the database and wait the namespace out, without entering it."""
    name = tenants.unique("rbac")
    namespace = f"tenant-{name}"
    _result, failure = tenants.tenant(as_automation(name, plan="small"))
    assert failure is None, failure
    holder = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="holder", finalizers=["odoo-saas.io/test-hold"]))
    core.create_namespaced_config_map(namespace, holder)
    core.delete_namespace(namespace)
    deadline = time.monotonic() + 60
    while _binding(api, namespace) is not None:
        assert time.monotonic() < deadline, "the namespace controller did not remove the RoleBinding"
        time.sleep(0.5)

    result, failure = tenants.tenant(as_automation(name, plan="small"))
    assert failure and "still terminating" in failure and not result["changed"], failure

    with ThreadPoolExecutor(max_workers=1) as pool:
        removal = pool.submit(tenants.tenant, as_automation(name, state="absent", confirm=name))
        time.sleep(3)
        core.patch_namespaced_config_map("holder", namespace, {"metadata": {"finalizers": None}})
        result, failure = removal.result(timeout=300)
    assert failure is None, failure
    assert result["tenant"]["state"] == "deleted"
    assert result["tenant"]["backup"]["location"], "the database was not backed up"
    assert any("could not be archived" in warning for warning in result.get("warnings", [])), result.get("warnings")
    assert gone(core.read_namespace, namespace)
    database = result["tenant"]["database"]
    server = next(s for s in (tenants.SHARED_1, tenants.SHARED_2) if s.name == database["server"])
    with tenants.connect(server) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database["name"],)).fetchone() is None


def test_the_tenant_playbooks_run_with_the_automations_kubeconfig(core, automation, tmp_path):
    """What an AWX or Semaphore template runs, with the kubeconfig roles/saas_system exports."""
    kubeconfig = automation_rbac.write_kubeconfig(tmp_path / "automation.kubeconfig", automation)
    name = tenants.unique("pbrbac")
    as_automation = ["-e", f"odoo_saas_kubeconfig={kubeconfig}", "-e", f"tenant_name={name}"]
    provisioned = playbook("tenant_provision.yml", *as_automation, "-e", "tenant_plan=small")
    assert recap_changed(provisioned.stdout) == 1
    assert playbook("tenant_provision.yml", *as_automation, "-e", "tenant_plan=small").stdout.count("changed=0") == 1
    removed = playbook("tenant_decommission.yml", *as_automation, "-e", f"tenant_confirm={name}")
    assert "state: deleted" in removed.stdout
    assert gone(core.read_namespace, f"tenant-{name}")
