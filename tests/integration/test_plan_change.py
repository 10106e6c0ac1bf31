"""Changing a tenant's plan: check mode tells the truth, the workloads follow the new plan,
the finished init Job and the volumes stay as they are (with a warning for the volume), and
a re-run changes nothing."""

from __future__ import annotations

from kubernetes import client

from . import tenants


def test_a_plan_change_updates_workloads_and_keeps_the_volume(api, core, ledger_db, tmp_path):
    name = tenants.unique("plan")
    namespace = f"tenant-{name}"
    result, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="small"))
    assert failure is None, failure
    apps = client.AppsV1Api(api)
    before = apps.read_namespaced_deployment("odoo-web", namespace).spec.template.spec.containers[0].resources.requests

    planned, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="medium"), check_mode=True)
    assert failure is None, failure
    assert planned["changed"] is True and f"updated Deployment {namespace}/odoo-web" in planned["actions"]
    assert apps.read_namespaced_deployment("odoo-web", namespace).spec.template.spec.containers[0].resources.requests == before

    changed, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="medium"))
    assert failure is None, failure
    assert changed["tenant"]["plan"] == "medium"
    after = apps.read_namespaced_deployment("odoo-web", namespace).spec.template.spec.containers[0].resources.requests
    assert after != before and after["cpu"] == "1"
    assert any("odoo-filestore stays at" in warning and "20Gi" in warning for warning in changed["warnings"])
    claim = core.read_namespaced_persistent_volume_claim("odoo-filestore", namespace)
    assert claim.spec.resources.requests["storage"] == "5Gi"
    assert not any("Job" in action for action in changed["actions"]), "the finished init Job was touched"

    again, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="medium"))
    assert failure is None, failure
    assert again["changed"] is False, again["actions"]
