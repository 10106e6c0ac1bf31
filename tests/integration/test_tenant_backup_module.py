"""The tenant_backup and tenant_backups modules' core on the local platform: the backup Job is
created in the tenant's namespace, its pod is run for real by the kubelet stand-in of `make up`
(tests/cluster/job_kubelet.py), and the module records what the store then holds. Refusals come
before any change: no ledger row, no Job."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records, backup_set, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import (
    run_tenant_backup, run_tenant_backups,
)
from tests.cluster import object_store

from . import tenants


@pytest.fixture(scope="module")
def prefix():
    return f"module-{uuid.uuid4().hex[:8]}"


def _params(ledger_db, tmp_path, prefix, **overrides):
    return tenants.with_backup_target(ledger_db, tmp_path, prefix, **overrides)


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


def test_a_removal_takes_its_final_backup_in_the_cluster_once_and_refuses_when_the_store_is_down(
        api, ledger_db, tmp_path, prefix):
    name = tenants.unique("tf")
    result, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, plan="small"))
    assert failure is None, failure
    removal = _params(ledger_db, tmp_path, prefix, name=name, state="absent", confirm=name)
    down = dict(removal, backup_target=dict(removal["backup_target"], endpoint="http://127.0.0.1:9"))
    _result, failure = tenants.tenant(down)
    assert failure is not None and "reachable" in failure, failure
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, name).state == "active", "a refused removal changed the tenant"

    killed = tenants.tenant_in_subprocess(removal, env=dict(os.environ, **{VARIABLE: "after-backup"}))
    assert killed.returncode == -9, killed.stderr[-2000:]
    done, failure = tenants.tenant(removal)
    assert failure is None, failure
    assert done["tenant"]["state"] == "deleted"
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        finals = [b for b in backup_records.list_for(conn, name) if b.kind == "final"]
    assert [b.state for b in finals] == ["complete"], "the rerun took a second final backup"
    assert done["tenant"]["backup"]["location"].endswith(f"/{name}/{finals[0].id}")
    assert not any(action.startswith("backup ") and "(check mode)" in action for action in done["actions"])
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))
    assert backup_set.read_manifest(store, name, finals[0].id).kind == "final"
    assert any("reusing the final backup" in step for step in done["steps"])
    first = killed.stderr
    assert first.index("waiting for the pods") < first.index("backup Job"), "the final backup ran while Odoo could write"


def _fake_backup(conn, store, tenant, when):
    """A complete backup taken at `when`, in the ledger and (two small parts, a manifest) in the store."""
    backup_id = backup_set.new_backup_id("scheduled", when)
    parts = {}
    for part in backup_set.PART_FILES:
        key = backup_set.part_key(tenant, backup_id, part, False)
        store.put_bytes(key, b"x")
        parts[part] = backup_set.Part(key=key, size=1, sha256="0" * 64, entries=1)
    manifest = backup_set.Manifest(tenant=tenant, backup_id=backup_id, kind="scheduled", plan="small",
                                   odoo_version="18.0", database="db", started_at=when.isoformat(),
                                   completed_at=when.isoformat(), encrypted_to=None, parts=parts)
    store.put_bytes(backup_set.manifest_key(tenant, backup_id), manifest.to_json())
    backup_records.start(conn, tenant, backup_id, "scheduled", "s3 test", started_at=when)
    backup_records.complete(conn, tenant, manifest)
    return backup_id


def test_prune_applies_the_plans_retention_to_the_store_and_the_ledger(ledger_db, tmp_path, prefix):
    name = tenants.unique("tp")
    provisioned, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, plan="small"))
    assert failure is None, failure
    tenant = provisioned["tenant"]
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=120)
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        made = [_fake_backup(conn, store, tenant["name"], start + timedelta(days=day, hours=2)) for day in range(0, 120, 3)]
    result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=tenant["name"], prune=True),
                                        check_mode=False)
    assert failure is None, failure
    pruned = set(result["pruned"])
    assert pruned and pruned < set(made)
    listing = {m.backup_id for m in backup_set.list_backups(store, tenant["name"]).complete}
    assert not pruned & listing and (set(made) - pruned) <= listing
    assert not [key for key in store.keys(f"{tenant['name']}/") if key.split("/")[1] in pruned]
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        states = {b.id: b.state for b in backup_records.list_for(conn, tenant["name"])}
    assert {backup_id for backup_id, state in states.items() if state == "pruned"} == pruned
    # Kept: the new backup, and per the default policy at most 7 daily, 4 weekly and 3 monthly others.
    assert result["backup"]["id"] in listing and len(set(made) - pruned) <= 7 + 4 + 3
    again, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=tenant["name"], prune=True),
                                       check_mode=False)
    assert failure is None, failure
    # The same UTC day now has two backups: the policy keeps the newest, so only the first run's goes.
    assert again["pruned"] == [result["backup"]["id"]]
