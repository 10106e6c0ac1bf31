"""The tenant_restore module's core on the local platform: Odoo's Deployments stopped and brought
back (kwok's pods), the safety backup and the restore run as Jobs whose pods the kubelet
stand-in of `make up` runs for real (tests/cluster/job_kubelet.py) against the shared
PostgreSQL server, the filestore's volume directory and SeaweedFS. Refusals come before any
change: Odoo keeps running, no Job, no ledger event."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records, backup_set, restore_records
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import run_tenant_backup
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_restore import run_tenant_restore
from tests.cluster import object_store

from . import tenants


@pytest.fixture(scope="module")
def prefix():
    return f"restore-{uuid.uuid4().hex[:8]}"


def _params(ledger_db, tmp_path, prefix, **overrides):
    values = tenants.with_backup_target(ledger_db, tmp_path, prefix, **overrides)
    if values["backup"] is True:  # the tenant module's own option of that name
        values["backup"] = None
    return values


def _store(prefix):
    return open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                             prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))


def _provision(ledger_db, tmp_path, prefix, partners):
    name = tenants.unique("tr")
    result, failure = tenants.tenant(dict(_params(ledger_db, tmp_path, prefix, name=name, plan="small"), backup=True))
    assert failure is None, failure
    record = result["tenant"]
    database = record["database"]["name"]
    with tenants.connect(tenants.SHARED_1, database) as conn:
        conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar)")
        conn.execute(f'ALTER TABLE res_partner OWNER TO "{database}"')
        conn.execute("INSERT INTO res_partner (name) SELECT 'p' || i FROM generate_series(1, %s) i", (partners,))
    return record


def _partners(record):
    with tenants.connect(tenants.SHARED_1, record["database"]["name"]) as conn:
        return conn.execute("SELECT count(*), md5(string_agg(name, ',' ORDER BY id)) FROM res_partner").fetchone()


def _replicas(api, record):
    return {d.metadata.name: d.spec.replicas
            for d in client.AppsV1Api(api).list_namespaced_deployment(record["namespace"]).items}


def _cron_suspended(api, record):
    return client.BatchV1Api(api).read_namespaced_cron_job("scheduled-backup", record["namespace"]).spec.suspend


def _restore_jobs(api, record):
    return sorted(job.metadata.name for job in client.BatchV1Api(api).list_namespaced_job(record["namespace"]).items
                  if job.metadata.name.startswith(("restore-", "import-")))


def _events(ledger_db, name):
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        return [row[0] for row in conn.execute("SELECT action FROM events WHERE tenant = %s AND action LIKE 'restore-%%' "
                                               "ORDER BY id", (name,))]


def _backup(ledger_db, tmp_path, prefix, record):
    result, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=record["name"]), check_mode=False)
    assert failure is None, failure
    return result["backup"]["id"]


@pytest.fixture(scope="module")
def tenant(ledger_db, tmp_path_factory, prefix):
    return _provision(ledger_db, tmp_path_factory.mktemp("r"), prefix, 300)


@pytest.fixture(scope="module")
def backup_id(ledger_db, tmp_path_factory, prefix, tenant):
    return _backup(ledger_db, tmp_path_factory.mktemp("rb"), prefix, tenant)


def test_check_mode_says_what_it_would_do_and_changes_nothing(api, ledger_db, tmp_path, prefix, tenant, backup_id):
    replicas = _replicas(api, tenant)
    result, failure = run_tenant_restore(_params(ledger_db, tmp_path, prefix, name=tenant["name"], backup=backup_id),
                                         check_mode=True)
    assert failure is None, failure
    assert result["changed"] is True and result["restore"] is None
    said = "\n".join(result["actions"])
    assert "scaled Deployment" in said and "(check mode)" in said and f"backup {tenant['name']}/{backup_id}" in said
    assert _replicas(api, tenant) == replicas and any(replicas.values())
    assert _restore_jobs(api, tenant) == [] and _events(ledger_db, tenant["name"]) == []


def test_a_restore_puts_the_tenant_back_as_it_was_after_a_safety_backup(
        api, ledger_db, tmp_path, prefix, tenant, backup_id):
    backed_up = _partners(tenant)
    replicas = _replicas(api, tenant)
    with tenants.connect(tenants.SHARED_1, tenant["database"]["name"]) as conn:
        conn.execute("DELETE FROM res_partner WHERE id > 100")  # the mistake the restore undoes
    result, failure = run_tenant_restore(_params(ledger_db, tmp_path, prefix, name=tenant["name"], backup=backup_id),
                                         check_mode=False)
    assert failure is None, failure
    assert _partners(tenant) == backed_up
    assert _replicas(api, tenant) == replicas, "Odoo was not brought back at its replicas"
    done = result["restore"]
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        safety = backup_records.get(conn, tenant["name"], done["safety_backup"])
    assert safety.kind == "pre-restore" and safety.state == "complete"
    assert safety.expires_at is not None, "a safety backup is kept for its grace period, not by the daily rule"
    assert backup_set.read_manifest(_store(prefix), tenant["name"], safety.id).kind == "pre-restore"
    steps = "\n".join(result["steps"])
    assert steps.index("stopping Odoo") < steps.index("safety backup") < steps.index("restore Job")
    assert _events(ledger_db, tenant["name"])[-2:] == ["restore-started", "restore-finished"]
    assert object_store.secret_key() not in json.dumps(result)


def test_a_restore_into_a_new_tenant_fills_it_with_the_other_tenants_data(
        api, ledger_db, tmp_path, prefix, tenant, backup_id):
    new = _provision(ledger_db, tmp_path, prefix, 5)
    result, failure = run_tenant_restore(_params(ledger_db, tmp_path, prefix, name=new["name"], backup=backup_id,
                                                 from_tenant=tenant["name"], safety_backup=False), check_mode=False)
    assert failure is None, failure
    assert _partners(new)[0] == 300 and result["restore"]["safety_backup"] is None
    with tenants.connect(tenants.SHARED_1, new["database"]["name"]) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'res_partner'").fetchone()[0]
    assert owner == new["database"]["name"]


def _fake_manifest(store, tenant, **changes):
    """A complete backup of `tenant` in the store whose manifest says `changes`."""
    backup_id = backup_set.new_backup_id("manual")
    parts = {}
    for part in backup_set.PART_FILES:
        key = backup_set.part_key(tenant, backup_id, part, bool(changes.get("encrypted_to")))
        store.put_bytes(key, b"x")
        parts[part] = backup_set.Part(key=key, size=1, sha256="0" * 64, entries=1)
    values = dict(tenant=tenant, backup_id=backup_id, kind="manual", plan="small", odoo_version="18.0", database="db",
                  started_at="2026-12-01T00:00:00+00:00", completed_at="2026-12-01T00:00:01+00:00", encrypted_to=None,
                  parts=parts)
    store.put_bytes(backup_set.manifest_key(tenant, backup_id), backup_set.Manifest(**{**values, **changes}).to_json())
    return backup_id


@pytest.mark.parametrize("case, expected", [
    ("no such backup", "has no complete backup"),
    ("odoo 17", "is of Odoo 17.0 and tenant"),
    ("encrypted", "backup_encryption.identity is not set"),
    ("bad id", "is not a backup id"),
    ("both", "give exactly one"),
    ("no export", "holds no imports/"),
])
def test_refusals_come_before_any_change(api, ledger_db, tmp_path, prefix, tenant, case, expected):
    store = _store(prefix)
    backup = {"no such backup": backup_set.new_backup_id("manual"),
              "odoo 17": _fake_manifest(store, tenant["name"], odoo_version="17.0") if case == "odoo 17" else None,
              "encrypted": _fake_manifest(store, tenant["name"], encrypted_to="age1x") if case == "encrypted" else None,
              "bad id": "yesterday", "both": backup_set.new_backup_id("manual")}.get(case)
    export = {"both": "imports/a.zip", "no export": "imports/none.zip"}.get(case)
    replicas, events = _replicas(api, tenant), _events(ledger_db, tenant["name"])
    _result, failure = run_tenant_restore(_params(ledger_db, tmp_path, prefix, name=tenant["name"], backup=backup,
                                                  odoo_export=export), check_mode=False)
    assert failure is not None and expected in failure, failure
    assert _replicas(api, tenant) == replicas and _events(ledger_db, tenant["name"]) == events
    assert not [job for job in _restore_jobs(api, tenant) if job.endswith(backup or "-")]


@pytest.mark.parametrize("point", ["restore:odoo-stopped", "restore:job-complete"])
def test_a_restore_killed_half_way_is_finished_by_the_rerun(api, ledger_db, tmp_path, prefix, point):
    record = _provision(ledger_db, tmp_path, prefix, 50)
    backup_id = _backup(ledger_db, tmp_path, prefix, record)
    replicas = _replicas(api, record)
    with tenants.connect(tenants.SHARED_1, record["database"]["name"]) as conn:
        conn.execute("TRUNCATE res_partner")
    params = _params(ledger_db, tmp_path, prefix, name=record["name"], backup=backup_id)
    killed = tenants.tenant_in_subprocess(params, env=dict(os.environ, **{VARIABLE: point}),
                                          entry=("tenant_restore", "run_tenant_restore"))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not any(_replicas(api, record).values()), "Odoo runs while its restore is unfinished"
    assert _cron_suspended(api, record) is True, "scheduled backups run while the restore is unfinished"
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        unfinished = restore_records.unfinished(conn, record["name"])
    assert unfinished is not None
    result, failure = run_tenant_restore(params, check_mode=False)
    assert failure is None, failure
    assert result["restore"]["run"] == unfinished.run_id
    assert _partners(record)[0] == 50 and _replicas(api, record) == replicas
    assert _cron_suspended(api, record) is False
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        safety = [b for b in backup_records.list_for(conn, record["name"]) if b.kind == "pre-restore"]
    assert len(safety) == 1, "the rerun took a second safety backup"


def test_a_restore_whose_job_fails_before_replacing_brings_odoo_back_untouched(api, ledger_db, tmp_path, prefix):
    record = _provision(ledger_db, tmp_path, prefix, 20)
    backup_id = _backup(ledger_db, tmp_path, prefix, record)
    store = _store(prefix)
    key = backup_set.part_key(record["name"], backup_id, "database", False)
    damaged = bytearray(store.get_bytes(key))
    damaged[len(damaged) // 2] ^= 0xFF
    store.put_bytes(key, bytes(damaged))
    with tenants.connect(tenants.SHARED_1, record["database"]["name"]) as conn:
        conn.execute("INSERT INTO res_partner (name) VALUES ('after the backup')")
    before, replicas = _partners(record), _replicas(api, record)
    _result, failure = run_tenant_restore(_params(ledger_db, tmp_path, prefix, name=record["name"], backup=backup_id,
                                                  safety_backup=False), check_mode=False)
    assert failure is not None and "sha256" in failure and "data is as it was" in failure, failure
    assert _partners(record) == before and _replicas(api, record) == replicas
    assert _events(ledger_db, record["name"])[-2:] == ["restore-started", "restore-failed"]
    assert _restore_jobs(api, record) == [], "the failed Job was left to retry under a running Odoo"
    assert _cron_suspended(api, record) is False
