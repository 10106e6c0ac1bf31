"""odoo_saas.kit.tenants' core (fleet.run_fleet) against the real API server and PostgreSQL:
every entry checked before anything is touched, tenants converged side by side, a failing
tenant not stopping the others, a re-run that changes nothing."""

from __future__ import annotations

import threading
import time

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.fleet import run_fleet

from . import tenants


def _fleet(ledger_db, backup_dir, entries, parallel=3, check_mode=False):
    params = {key: value for key, value in tenants.params(ledger_db, backup_dir, name="unused").items()
              if key not in ("name", "state", "db_strategy", "domains", "odoo_version", "backup")}
    return run_fleet(dict(params, tenants=entries, parallel=parallel), check_mode)


def _namespace_exists(core, name):
    return bool(core.list_namespace(field_selector=f"metadata.name=tenant-{name}").items)


def test_a_bad_entry_fails_the_whole_task_before_anything_is_touched(core, ledger_db, tmp_path):
    good, other = tenants.unique("flt"), tenants.unique("flt")
    result, failure = _fleet(ledger_db, tmp_path, [
        {"name": good, "plan": "small"},
        {"name": other, "plan": "platinum"},
        {"name": "X_bad"},
        {"name": good, "plan": "small"},
    ])
    assert failure is not None
    assert "tenants[1].plan" in failure and "platinum" in failure
    assert "tenants[2].name" in failure
    assert "tenants[3].name" in failure and "also tenants[0]" in failure
    assert "nothing was changed" in failure
    assert result["tenants"] == [] and result["changed"] is False
    assert not _namespace_exists(core, good)
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, good) is None


def test_tenants_converge_side_by_side_and_a_rerun_changes_nothing(core, ledger_db, tmp_path):
    names = [tenants.unique("flt") for _index in range(3)]
    entries = [{"name": name, "plan": "small"} for name in names]

    planned, failure = _fleet(ledger_db, tmp_path, entries, check_mode=True)
    assert failure is None, failure
    assert planned["changed"] is True and sorted(planned["summary"]["changed"]) == sorted(names)
    assert not any(_namespace_exists(core, name) for name in names), "check mode created a namespace"

    result, failure = _fleet(ledger_db, tmp_path, entries)
    assert failure is None, failure
    assert [entry["name"] for entry in result["tenants"]] == names
    assert all(entry["tenant"]["state"] == "active" for entry in result["tenants"])
    assert sorted(result["summary"]["changed"]) == sorted(names)
    assert result["api_requests"]["apply"] == sum(entry["api_requests"]["apply"] for entry in result["tenants"])
    assert all(_namespace_exists(core, name) for name in names)

    again, failure = _fleet(ledger_db, tmp_path, entries)
    assert failure is None, failure
    assert again["changed"] is False, [entry["actions"] for entry in again["tenants"]]
    assert sorted(again["summary"]["unchanged"]) == sorted(names)
    assert set(again["api_requests"]) == {"get"}, again["api_requests"]


def test_a_failing_tenant_does_not_stop_the_others(core, ledger_db, tmp_path):
    fine, missing = tenants.unique("flt"), tenants.unique("flt")
    result, failure = _fleet(ledger_db, tmp_path, [
        {"name": fine, "plan": "small"},
        {"name": missing, "plan": "small", "state": "suspended"},  # suspending a tenant that does not exist
    ])
    assert failure is not None and failure.startswith("1 of 2 tenant(s) failed")
    assert missing in failure and "provision it" in failure
    assert result["summary"] == {"changed": [fine], "unchanged": [], "failed": [missing]}
    assert _namespace_exists(core, fine) and not _namespace_exists(core, missing)

    removal, failure = _fleet(ledger_db, tmp_path, [
        {"name": fine, "state": "absent", "confirm": fine, "backup": False},
        {"name": missing, "state": "absent", "confirm": missing},
    ])
    assert failure is None, failure
    assert removal["summary"] == {"changed": [fine], "unchanged": [missing], "failed": []}
    assert not _namespace_exists(core, fine)


def _waiting_for_a_tenant_lock(ledger_db):
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        # This ledger's own locks only: other test files may run beside this one on the same server.
        return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0] > 0


def test_the_fleet_reads_once_it_holds_every_lock_and_repairs_what_changed_before(core, ledger_db, tmp_path):
    """The fleet's reads (one LIST per kind) are taken only once it holds every tenant's lock: a
    change made by a run that held one of the locks while the fleet waited is seen and repaired,
    as are an object deleted by hand and one whose tenant label was stripped (the LIST misses it,
    a GET finds it)."""
    names = sorted(tenants.unique("fll") for _index in range(3))
    entries = [{"name": name, "plan": "small"} for name in names]
    _result, failure = _fleet(ledger_db, tmp_path, entries)
    assert failure is None, failure

    noop, failure = _fleet(ledger_db, tmp_path, entries)
    assert failure is None, failure
    assert noop["changed"] is False, [entry["actions"] for entry in noop["tenants"]]
    per_tenant = sum(noop["tenants"][0]["api_requests"].values())
    # Three tenants cost fewer requests than one tenant read object by object (24): the LISTs.
    assert set(noop["api_requests"]) == {"get"} and noop["api_requests"]["get"] < 24, noop["api_requests"]
    assert per_tenant == 0, noop["tenants"][0]["api_requests"]

    first, held, last = (f"tenant-{name}" for name in names)
    holder = tenants.connect(tenants.LEDGER, ledger_db)
    ledger.lock_tenant(holder, names[1])  # another run holds the middle tenant
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(zip(("result", "failure"), _fleet(ledger_db, tmp_path, entries))))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not _waiting_for_a_tenant_lock(ledger_db):
            assert time.monotonic() < deadline, "the fleet never waited for the held tenant's lock"
            time.sleep(0.1)
        # What the run holding the lock does: it removes the middle tenant's Service.
        service = core.list_namespaced_service(held).items[0].metadata.name
        core.delete_namespaced_service(service, held)
        secret = next(item for item in core.list_namespaced_secret(last).items if item.metadata.labels
                      and "odoo-saas.io/tenant" in item.metadata.labels)
        core.patch_namespaced_secret(secret.metadata.name, last, [{"op": "remove", "path": "/metadata/labels/odoo-saas.io~1tenant"}])
    finally:
        holder.close()
    worker.join(120)
    assert not worker.is_alive()
    assert outcome["failure"] is None, outcome["failure"]
    summary = outcome["result"]["summary"]
    assert summary["unchanged"] == [names[0]] and sorted(summary["changed"]) == names[1:], summary
    assert core.read_namespaced_service(service, held).metadata.name == service
    assert core.read_namespaced_secret(secret.metadata.name, last).metadata.labels["odoo-saas.io/tenant"] == names[2]
    assert first not in " ".join(sum((entry["actions"] for entry in outcome["result"]["tenants"]), []))
