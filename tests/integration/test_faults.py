"""A dependency that goes away mid-run fails the run with a message that names it and says what
to do; once it is back, running again converges and leaves nothing half-done. The fast subset of
tests/proof/test_faults.py (one PostgreSQL and one API server fault, on one tenant), against a
scratch PostgreSQL server and an API server proxy of this test's own."""

from __future__ import annotations

from . import fault_scenarios

CASES = {fault.case: fault for fault in fault_scenarios.FAULTS}


def test_postgres_stopped_then_api_cut_mid_run_fail_clearly_and_reruns_converge(core, tmp_path):
    bench = fault_scenarios.FaultBench(tmp_path)
    try:
        created = fault_scenarios.run_fault(bench, CASES["PostgreSQL stopped while creating the database"], core)
        created.check()
        fault_scenarios.run_fault(bench, CASES["API server cut while suspending"], core, name=created.tenant).check()
    finally:
        bench.close()
