"""tenant_info over every tenant reads in bulk (operations/info.py: one LIST per kind across the
tenant namespaces, each server's catalog once, the backups with one ledger query and one
listing of the store, the logins several at a time). Its findings must be those of the
per-tenant reads, drift included: here every kind of drift info reports is made by hand on
one tenant or another (an object deleted, a field changed, a tenant label stripped so that
the LIST misses the object, the role's connection limit changed on its server, the tenant's
password changed so that its login fails), then both ways are compared tenant by tenant."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import KINDS
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import run_tenant_backup
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info

from . import tenants


@pytest.fixture(scope="module")
def fleet(ledger_db, tmp_path_factory):
    """Four tenants with a backup target; one has a backup."""
    backup_dir = tmp_path_factory.mktemp("fleet")
    params = tenants.with_backup_target(ledger_db, backup_dir, f"fleet-{uuid.uuid4().hex[:8]}")
    names = [tenants.unique("fi") for _index in range(4)]
    for name in names:
        _result, failure = tenants.tenant(dict(params, name=name, plan="small"))
        assert failure is None, failure
    _taken, failure = run_tenant_backup(dict(params, name=names[0], plan="small", backup=None), check_mode=False)
    assert failure is None, failure
    return params, names


def _findings(entry):
    health = dict(entry["health"])
    backup = dict(health.pop("backup"))
    backup.pop("age_hours")  # a clock reading: the two runs are seconds apart
    return {"state": entry["state"], "drift": sorted(entry["drift"]), "health": health, "backup": backup}


def _per_tenant(params, names):
    found, requests = {}, 0
    for name in names:
        info, failure = run_tenant_info(dict(params, name=name))
        assert failure is None, failure
        found[name] = _findings(info["tenants"][0])
        requests += sum(info["api_requests"].values())
    return found, requests


def _over_the_fleet(params):
    info, failure = run_tenant_info(dict(params, name=None))
    assert failure is None, failure
    return {entry["name"]: _findings(entry) for entry in info["tenants"]}, sum(info["api_requests"].values())


def test_every_tenant_at_once_finds_what_each_tenant_alone_finds(api, core, fleet):
    params, names = fleet
    apps, networking = client.AppsV1Api(api), client.NetworkingV1Api(api)
    clean_fleet, clean_requests = _over_the_fleet(params)
    assert all(found["drift"] == [] for found in clean_fleet.values()), clean_fleet
    assert clean_fleet[names[0]]["backup"]["last_complete"] is not None, "the backup taken is not seen in the store"

    first, second, third, fourth = (f"tenant-{name}" for name in names)
    networking.delete_namespaced_network_policy("default-deny", first)
    apps.patch_namespaced_deployment("odoo-web", second, {"spec": {"replicas": 3}})
    core.patch_namespaced_service("odoo", third, {"metadata": {"labels": {"odoo-saas.io/tenant": None}}})
    database = f"odoo_{names[3].replace('-', '_')}"
    with tenants.connect(tenants.SHARED_1) as conn_1, tenants.connect(tenants.SHARED_2) as conn_2:
        for conn in (conn_1, conn_2):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (database,)).fetchone():
                conn.execute(f'ALTER ROLE "{database}" CONNECTION LIMIT 1 PASSWORD \'not-the-secret\'')

    each, each_requests = _per_tenant(params, names)
    together, together_requests = _over_the_fleet(params)
    assert {name: together[name] for name in names} == each
    assert "missing: NetworkPolicy " + first + "/default-deny" in each[names[0]]["drift"]
    assert f"changed: Deployment {second}/odoo-web" in each[names[1]]["drift"]
    assert f"changed: Service {third}/odoo" in each[names[2]]["drift"], each[names[2]]
    assert any("differs from the plan" in line for line in each[names[3]]["drift"]), each[names[3]]
    assert each[names[3]]["health"]["database_reachable"] is False
    assert each[names[0]]["health"]["database_reachable"] is True

    # The bulk reads do not grow with the tenants: a LIST per kind (and the orphan namespaces'),
    # plus a GET per object a LIST missed (the deleted NetworkPolicy, the unlabelled Service).
    assert clean_requests <= len(KINDS) + 1 < each_requests, (clean_requests, each_requests)
    assert together_requests <= clean_requests + 2, (together_requests, clean_requests)
