"""The tenant_backup and tenant_backups modules' core on the local platform: the backup Job is
created in the tenant's namespace, its pod is run for real by the kubelet stand-in of `make up`
(tests/cluster/job_kubelet.py), and the module records what the store then holds. Refusals come
before any change: no ledger row, no Job."""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records, backup_set, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.backups_purge import run_backups_purge
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import tenant_run
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations import backup_health
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import (
    run_tenant_backup, run_tenant_backups,
)
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import BackupPolicy
from tests.cluster import object_store

from . import tenants
from .conftest import wait_for


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


def test_a_tenant_gets_a_daily_backup_cronjob_whose_runs_back_up_and_prune_in_the_store(api, core, ledger_db, tmp_path,
                                                                                        prefix):
    """The CronJob's Job template, run as the CronJob controller would run it at its minute
    (a Job made from the template, as `kubectl create job --from=cronjob/...` does): its pod
    is run for real by the kubelet stand-in, names its own scheduled backup, then applies the
    plan's retention in the store (two the same day: the older goes)."""
    name = tenants.unique("ts")
    provisioned, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, plan="small"))
    assert failure is None, failure
    namespace = provisioned["tenant"]["namespace"]
    batch = client.BatchV1Api(api)
    cron = batch.read_namespaced_cron_job("scheduled-backup", namespace)
    policy = BackupPolicy()
    assert cron.spec.schedule == f"{policy.minute_for(name)} {policy.hour} * * *" and cron.spec.suspend is False
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))
    taken = []
    for run in range(2):
        job = client.V1Job(metadata=client.V1ObjectMeta(name=f"scheduled-backup-manual-{run}"),
                           spec=cron.spec.job_template.spec)
        batch.create_namespaced_job(namespace, job)
        wait_for(lambda run=run: (batch.read_namespaced_job(f"scheduled-backup-manual-{run}", namespace).status.succeeded
                                  or 0) >= 1, 120, f"scheduled backup run {run}")
        listing = backup_set.list_backups(store, name)
        taken.append(listing.complete[0].backup_id)
        assert [m.kind for m in listing.complete] == ["scheduled"], "retention kept two backups of one day"
    assert taken[0] != taken[1]
    # The ledger learns the Jobs' backups from the store when the controller prunes.
    pruning, failure = run_tenant_backup(_params(ledger_db, tmp_path, prefix, name=name, prune=True), check_mode=False)
    assert failure is None, failure
    assert any(f"recorded backup {name}/{taken[1]} (scheduled) from the store" in a for a in pruning["actions"])
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        states = {b.id: b.state for b in backup_records.list_for(conn, name)}
    assert states == {taken[1]: "pruned", pruning["backup"]["id"]: "complete"}, states

    suspended, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, plan="small", state="suspended"))
    assert failure is None, failure
    assert batch.read_namespaced_cron_job("scheduled-backup", namespace).spec.suspend is True
    removed, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, state="absent", confirm=name,
                                              backup=False))
    assert failure is None, failure
    assert any(action == f"deleted CronJob {namespace}/scheduled-backup" for action in removed["actions"]), \
        removed["actions"]


def test_tenant_info_reports_the_newest_backup_and_a_stale_one_as_a_problem(ledger_db, tmp_path, prefix):
    name = tenants.unique("th")
    params = _params(ledger_db, tmp_path, prefix, name=name, plan="small")
    provisioned, failure = tenants.tenant(params)
    assert failure is None, failure
    info, failure = run_tenant_info(params)
    assert failure is None, failure
    fresh = info["tenants"][0]["health"]["backup"]
    assert fresh == {"last_complete": None, "age_hours": None, "stale": False, "problem": None}
    taken, failure = run_tenant_backup(params, check_mode=False)
    assert failure is None, failure
    info, failure = run_tenant_info(params)
    assert info["tenants"][0]["health"]["backup"]["last_complete"] == taken["backup"]["id"]
    with ExitStack() as opened:
        run, record = tenant_run(opened, params, True, lambda message: None)
        later = backup_health.of(run, record, now=datetime.now(timezone.utc) + timedelta(hours=27))
        down = dict(params, backup_target=dict(params["backup_target"], endpoint="http://127.0.0.1:9"))
        run, record = tenant_run(opened, down, True, lambda message: None)
        unreachable = backup_health.of(run, record)
    assert later["stale"] is True and "hours old" in later["problem"] and "scheduled-backup" in later["problem"]
    assert unreachable["problem"].startswith("the backup store could not be read")
    assert unreachable["last_complete"] == taken["backup"]["id"], "the ledger still knows the newest backup"


def test_a_removed_tenants_final_backup_is_kept_for_its_grace_period_then_purged(ledger_db, tmp_path, prefix):
    name = tenants.unique("tg")
    _provisioned, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, plan="small"))
    assert failure is None, failure
    _removed, failure = tenants.tenant(_params(ledger_db, tmp_path, prefix, name=name, state="absent", confirm=name))
    assert failure is None, failure
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        (final,) = [b for b in backup_records.list_for(conn, name) if b.kind == "final"]
    assert timedelta(days=29, hours=23) < final.expires_at - final.completed_at <= timedelta(days=30, seconds=1)
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))

    def purge(check_mode):
        result, failure = run_backups_purge(_params(ledger_db, tmp_path, prefix), check_mode=check_mode)
        assert failure is None, failure
        return [(entry["tenant"], entry["id"]) for entry in result["purged"]], result

    assert (name, final.id) not in purge(False)[0], "a final backup inside its grace period was purged"
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        conn.execute("UPDATE backups SET expires_at = now() - interval '1 minute' WHERE tenant = %s AND id = %s",
                     (name, final.id))
    listed, checked = purge(True)
    assert (name, final.id) in listed and checked["changed"] is True
    assert backup_set.read_manifest(store, name, final.id) is not None, "check mode removed a backup"
    purged, _result = purge(False)
    assert (name, final.id) in purged
    assert backup_set.read_manifest(store, name, final.id) is None and not store.keys(f"{name}/{final.id}/")
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert backup_records.get(conn, name, final.id).state == "pruned"
    assert (name, final.id) not in purge(False)[0]
