"""A run killed with SIGKILL at any step is finished by running it again, leaving no orphan
object, role, database, ledger row or half-written backup."""

from __future__ import annotations

import os

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils import backup, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE

from . import tenants

PROVISION_POINTS = ["after-reserve", "after-foundation", "after-database", "after-init-job", "before-ledger-state"]
DECOMMISSION_POINTS = ["after-deleting-state", "after-backup", "after-pods-stopped", "after-drop", "after-namespace-deleted"]


def _killed_at(point, module_params):
    child = tenants.tenant_in_subprocess(module_params, env=dict(os.environ, **{VARIABLE: point}))
    assert child.returncode == -9, f"the run was not killed at {point}: {child.returncode} {child.stderr[-2000:]}"


def _database_on(server, database):
    with tenants.connect(server) as conn:
        return (conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None,
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (database,)).fetchone() is not None)


def _record(ledger_db, name):
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        return ledger.get_tenant(conn, name)


@pytest.mark.parametrize("point", PROVISION_POINTS)
def test_provisioning_killed_then_rerun_converges(core, ledger_db, tmp_path, point):
    name = tenants.unique("crash")
    module_params = tenants.params(ledger_db, tmp_path, name=name, plan="small")
    _killed_at(point, module_params)

    result, failure = tenants.tenant(module_params)
    assert failure is None, failure
    assert result["tenant"]["state"] == "active"
    again, _failure = tenants.tenant(module_params)
    assert again["changed"] is False, f"not converged after a crash at {point}: {again['actions']}"
    server = tenants.SHARED_1 if result["tenant"]["database"]["server"] == "postgres-shared-1" else tenants.SHARED_2
    assert _database_on(server, result["tenant"]["database"]["name"]) == (True, True)
    other = tenants.SHARED_2 if server is tenants.SHARED_1 else tenants.SHARED_1
    assert _database_on(other, result["tenant"]["database"]["name"]) == (False, False), "an orphan on the other server"


@pytest.mark.parametrize("point", DECOMMISSION_POINTS)
def test_decommission_killed_then_rerun_finishes_with_one_backup(core, ledger_db, tmp_path, point):
    name = tenants.unique("crash")
    backups = tmp_path / "backups"
    result, failure = tenants.tenant(tenants.params(ledger_db, backups, name=name, plan="small"))
    assert failure is None
    database = result["tenant"]["database"]["name"]
    server = tenants.SHARED_1 if result["tenant"]["database"]["server"] == "postgres-shared-1" else tenants.SHARED_2
    removal = tenants.params(ledger_db, backups, name=name, state="absent", confirm=name)
    _killed_at(point, removal)
    assert _record(ledger_db, name).state == "deleting"

    done, failure = tenants.tenant(removal)
    assert failure is None, failure
    record = _record(ledger_db, name)
    assert record.state == "deleted"
    assert _database_on(server, database) == (False, False)
    assert core.list_namespace(field_selector=f"metadata.name=tenant-{name}").items == []
    files = sorted(p.name for p in backups.iterdir() if not p.name.endswith(".lock"))
    assert files == [os.path.basename(record.backup_location)], f"expected exactly the recorded backup, found {files}"
    backup.verify_backup(record.backup_location)
    assert done["tenant"]["backup"]["sha256"] == record.backup_sha256
