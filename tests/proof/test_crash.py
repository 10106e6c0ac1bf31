"""Crash consistency, the full matrix: a run killed with SIGKILL at every crash point
(plugins/module_utils/crashpoints.py, docs/reliability.md) of provisioning, suspension,
resumption and decommissioning, then run again. Every time the tenant converges (the run after
the rerun changes nothing) and nothing is left behind: objects only in the tenant's namespace,
its role and database only on the server it is placed on, its ledger row in the right state,
exactly one verified backup after a removal and never a partial one, no password in the killed
run's output or in the results."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import crash_scenarios as scenarios
from tests.integration import tenants

REPO = Path(__file__).resolve().parents[2]
SUITE = "crash consistency"
PROVISION_POINTS = list(dict.fromkeys(scenarios.CONVERGE_POINTS + scenarios.object_points()
                                      + scenarios.PROVISION_SQL_POINTS))
DECOMMISSION_POINTS = scenarios.DECOMMISSION_POINTS + [scenarios.TRUNCATED]
STATE_POINTS = scenarios.SUSPENSION_POINTS
_POINTS_TRIED = set()


@pytest.fixture(scope="module")
def crash_ledger(tmp_path_factory):
    """A scratch ledger; its tenants are removed several at once afterwards."""
    name = tenants.create_ledger()
    yield name
    tenants.remove_all(name, tmp_path_factory.mktemp("cleanup"), width=8)
    tenants.drop_ledger(name)


@pytest.fixture(scope="module")
def lasting_tenant(crash_ledger, tmp_path_factory):
    """One provisioned tenant that the suspension and resumption cases move back and forth."""
    name = tenants.unique("crash-state")
    result, failure = tenants.tenant(tenants.params(crash_ledger, tmp_path_factory.mktemp("lasting"), name=name,
                                                    plan=scenarios.PLAN))
    assert failure is None, failure
    return name


def _record(figures, phase, outcome):
    _POINTS_TRIED.add(outcome.point.split(" ")[-1])
    figures.add(SUITE, f"cases: {phase}")
    figures.add(SUITE, "runs killed (SIGKILL at the point)", int(outcome.killed))
    figures.add(SUITE, "reruns converged (next run changed nothing)", int(outcome.converged))
    figures.add(SUITE, "orphans or half-done leftovers found", len(outcome.problems))
    figures.add(SUITE, "secrets found in output or results", len(outcome.leaks))
    figures.set(SUITE, "distinct crash points", len(_POINTS_TRIED))
    outcome.check()


@pytest.mark.parametrize("point", PROVISION_POINTS)
def test_provisioning_killed_at_every_point_converges(core, crash_ledger, tmp_path, figures, point):
    _record(figures, "provisioning", scenarios.provisioning(core, crash_ledger, tmp_path, point))


def _bring(ledger_db, backup_dir, name, state):
    result, failure = tenants.tenant(tenants.params(ledger_db, backup_dir, name=name, state=state))
    assert failure is None, failure


@pytest.mark.parametrize("point", STATE_POINTS)
def test_suspension_killed_at_every_point_converges(core, crash_ledger, lasting_tenant, tmp_path, figures, point):
    _bring(crash_ledger, tmp_path, lasting_tenant, "present")
    _record(figures, "suspension", scenarios.state_change(core, crash_ledger, tmp_path, lasting_tenant, point,
                                                          "suspended"))


@pytest.mark.parametrize("point", STATE_POINTS)
def test_resumption_killed_at_every_point_converges(core, crash_ledger, lasting_tenant, tmp_path, figures, point):
    _bring(crash_ledger, tmp_path, lasting_tenant, "suspended")
    _record(figures, "resumption", scenarios.state_change(core, crash_ledger, tmp_path, lasting_tenant, point,
                                                          "present"))


@pytest.mark.parametrize("point", DECOMMISSION_POINTS)
def test_decommissioning_killed_at_every_point_finishes_with_one_backup(core, crash_ledger, tmp_path, figures, point):
    outcome = scenarios.decommissioning(core, crash_ledger, tmp_path / "backups", point)
    figures.add(SUITE, "removals ending with exactly one verified backup",
                int(not [p for p in outcome.problems if p.startswith("backups")]))
    _record(figures, "decommissioning", outcome)


def test_the_matrix_has_twenty_points_or_more_all_documented():
    points = {point.replace("+truncated", "") for point in
              set(PROVISION_POINTS) | set(STATE_POINTS) | set(DECOMMISSION_POINTS)}
    assert len(points) >= 20, sorted(points)
    documented = (REPO / "docs" / "reliability.md").read_text()
    missing = sorted(point for point in points if not _documented(point, documented))
    assert missing == [], f"crash points missing from docs/reliability.md: {missing}"


def _documented(point, text):
    """Named as such, or as its family (`after-apply:<Kind>/<name>`)."""
    return f"`{point}`" in text or (":" in point and f"`{point.split(':')[0]}:<" in text)
