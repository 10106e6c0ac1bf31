"""Faults: PostgreSQL, the API server or the ledger down before a run, or lost in the middle of
one (stopped, cut, restarted), during provisioning, suspension and decommissioning. The
failure names the dependency (which server and where) and says what to do, with no traceback
and no password; a dependency down before the run leaves nothing written (and a removal drops
nothing); once the dependency is back, running again converges and leaves nothing half-done.

Only dependencies of this suite's own are broken: a scratch PostgreSQL cluster it starts itself
(the scratch ledger's only shared server) and loopback proxies in front of the API server and
the ledger (tests/integration/fault_scenarios.py)."""

from __future__ import annotations

import pytest

from tests.integration import fault_scenarios

SUITE = "faults"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    bench = fault_scenarios.FaultBench(tmp_path_factory.mktemp("faults"))
    yield bench
    bench.close()


@pytest.mark.parametrize("fault", fault_scenarios.FAULTS, ids=lambda fault: fault.case)
def test_a_lost_dependency_fails_clearly_and_a_rerun_converges(bench, core, figures, fault):
    outcome = fault_scenarios.run_fault(bench, fault, core)
    figures.add(SUITE, f"faults injected: {fault.dependency}")
    if fault.survives:
        figures.add(SUITE, "restarts the run carried on through", int(outcome.failure is None))
    else:
        figures.add(SUITE, "failures naming the dependency and what to do", int(outcome.clear))
        figures.add(SUITE, "failures with a traceback", int("Traceback" in (outcome.failure or "")))
    if outcome.untouched is not None:
        figures.add(SUITE, "dependency down before the run: nothing written or dropped", int(outcome.untouched))
    figures.add(SUITE, "reruns converged (next run changed nothing)", int(outcome.converged))
    figures.add(SUITE, "lost or half-done after the rerun", len(outcome.problems))
    figures.add(SUITE, "secrets found in failures or results", len(outcome.leaks))
    outcome.check()
