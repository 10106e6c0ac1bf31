"""The tenant_backup and tenant_backups modules' core on the local platform: the backup Job is
created in the tenant's namespace, its pod is run for real by the kubelet stand-in of `make up`
(tests/cluster/job_kubelet.py), and the module records what the store then holds. Refusals come
before any change: no ledger row, no Job."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records, backup_set
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import (
    run_tenant_backup, run_tenant_backups,
)
from tests.cluster import object_store
from tests.cluster.job_kubelet import STAND_IN_IMAGE

from . import tenants


@pytest.fixture(scope="module")
def prefix():
    return f"module-{uuid.uuid4().hex[:8]}"


def _params(ledger_db, tmp_path, prefix, **overrides):
    target = {"kind": "s3", "endpoint": f"http://{object_store.endpoint()}", "bucket": object_store.BUCKET,
              "prefix": prefix, "access_key": object_store.ACCESS_KEY, "secret_key": object_store.secret_key(),
              "egress_cidrs": ["127.0.0.1/32"]}
    return tenants.params(ledger_db, tmp_path, backup_target=target, backup_image=STAND_IN_IMAGE, **overrides)


@pytest.fixture(scope="module")
def tenant(ledger_db, tmp_path_factory, prefix):
    name = tenants.unique("tb")
    result, failure = tenants.tenant(_params(ledger_db, tmp_path_factory.mktemp("b"), prefix, name=name, plan="small"))
    assert failure is None, failure
    with tenants.connect(tenants.SHARED_1, result["tenant"]["database"]["name"]) as conn:
        conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar)")
        conn.execute(f'ALTER TABLE res_partner OWNER TO "{result["tenant"]["database"]["name"]}"')
        conn.execute("INSERT INTO res_partner (name) SELECT 'p' || i FROM generate_series(1, 100) i")
    return result["tenant"]


def _jobs(api, namespace):
    return [job.metadata.name for job in client.BatchV1Api(api).list_namespaced_job(namespace).items
            if job.metadata.name.startswith("backup-")]


def test_check_mode_says_which_backup_and_changes_nothing(api, ledger_db, tmp_path, prefix, tenant):
    before = _jobs(api, tenant["namespace"])
    result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=tenant["name"]), check_mode=True)
    assert failure is None, failure
    assert result["changed"] is True and result["backup"] is None
    assert result["actions"][0].startswith(f"backup {tenant['name']} as ") and result["actions"][0].endswith("(check mode)")
    assert _jobs(api, tenant["namespace"]) == before
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert backup_records.list_for(conn, tenant["name"]) == []


def test_a_backup_runs_in_the_cluster_and_is_recorded_from_the_store(api, ledger_db, tmp_path, prefix, tenant):
    result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=tenant["name"]), check_mode=False)
    assert failure is None, failure
    taken = result["backup"]
    assert taken["state"] == "complete" and taken["kind"] == "manual" and taken["size"] > 0
    assert f"backup-{taken['id']}" in _jobs(api, tenant["namespace"])
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))
    manifest = backup_set.read_manifest(store, tenant["name"], taken["id"])
    assert taken["parts"]["database"]["sha256"] == manifest.parts["database"].sha256
    assert object_store.secret_key() not in repr(result)

    listed, failure = run_tenant_backups(_params(ledger_db, tmp_path, prefix, name=tenant["name"], verify=taken["id"]))
    assert failure is None, failure
    assert [(b["id"], b["in_store"], b["in_ledger"]) for b in listed["backups"]] == [(taken["id"], True, True)]
    assert listed["last_complete"]["id"] == taken["id"]
    assert listed["verified"]["checksums"] == "match" and listed["verified"]["database_entries"] > 0


def test_a_failing_backup_is_recorded_failed_with_the_programs_own_words(api, ledger_db, tmp_path, prefix, tenant):
    role = tenant["database"]["name"]
    with tenants.connect(tenants.SHARED_1) as admin:
        admin.execute(f'ALTER ROLE "{role}" NOLOGIN')
    try:
        result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=tenant["name"], wait_timeout=120),
                                            check_mode=False)
    finally:
        with tenants.connect(tenants.SHARED_1) as admin:
            admin.execute(f'ALTER ROLE "{role}" LOGIN')
    assert failure is not None and "pg_dump of database" in failure and "not permitted to log in" in failure, failure
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        failed = [b for b in backup_records.list_for(conn, tenant["name"]) if b.state == "failed"]
    assert len(failed) == 1 and "not permitted to log in" in failed[0].error


def test_refusals_come_before_any_change(api, ledger_db, tmp_path, prefix, tenant):
    before = _jobs(api, tenant["namespace"])
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        rows = len(backup_records.list_for(conn, tenant["name"]))
    unset = tenants.params(ledger_db, tmp_path, name=tenant["name"])
    _result, failure = run_tenant_backup(unset, check_mode=False)
    assert "backup_target is not set" in failure
    down = _params(ledger_db, tmp_path, prefix, name=tenant["name"])
    down["backup_target"] = dict(down["backup_target"], endpoint="http://127.0.0.1:9")
    _result, failure = run_tenant_backup(down, check_mode=False)
    assert "failed" in failure and "reachable" in failure and object_store.secret_key() not in failure
    wrong_key = _params(ledger_db, tmp_path, prefix, name=tenant["name"])
    wrong_key["backup_target"] = dict(wrong_key["backup_target"], secret_key="not-the-key")
    _result, failure = run_tenant_backup(wrong_key, check_mode=False)
    assert "SignatureDoesNotMatch" in failure or "InvalidAccessKeyId" in failure, failure
    _result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name="no-such-tenant"), check_mode=False)
    assert "no such tenant" in failure
    assert _jobs(api, tenant["namespace"]) == before
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert len(backup_records.list_for(conn, tenant["name"])) == rows
