"""A run killed with SIGKILL at any step is finished by running it again, leaving no orphan
object, role, database, ledger row or half-written backup. A subset of the crash points: the
lifecycle's steps, one between two objects, one between two SQL statements and one inside the
backup; tests/proof/test_crash.py runs every point."""

from __future__ import annotations

import pytest

from . import crash_scenarios

PROVISION_POINTS = crash_scenarios.CONVERGE_POINTS + ["after-apply:Secret/odoo-db", "after-sql:create-database"]
DECOMMISSION_POINTS = ["after-deleting-state", "backup:renamed", "after-backup", "after-pods-stopped", "after-drop",
                       "after-namespace-deleted"]


@pytest.mark.parametrize("point", PROVISION_POINTS)
def test_provisioning_killed_then_rerun_converges(core, ledger_db, tmp_path, point):
    crash_scenarios.provisioning(core, ledger_db, tmp_path, point).check()


@pytest.mark.parametrize("point", DECOMMISSION_POINTS)
def test_decommission_killed_then_rerun_finishes_with_one_backup(core, ledger_db, tmp_path, point):
    crash_scenarios.decommissioning(core, ledger_db, tmp_path / "backups", point).check()
