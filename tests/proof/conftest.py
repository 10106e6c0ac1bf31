"""The reliability suites of `make proof` (issue 5): the same fixtures as the integration
tests, plus `figures`, which collects what each suite tried (cases, faults injected, what was
lost) and prints one table per suite at the end of the run (also written as JSON to
.local/proof.json, or to $PROOF_JSON)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

# The integration fixtures, re-exported for the suites.
from tests.integration.conftest import (  # noqa: F401 pylint: disable=unused-import
    admin, api, core, kubeconfig, ledger_db, namespace, server,
)

REPO = Path(__file__).resolve().parents[2]
_FIGURES: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))


class Figures:
    """Counters of one suite: figures.add("crash", "runs killed"); figures.set(...)."""

    def add(self, suite, what, count=1):
        _FIGURES[suite][what] += count

    def set(self, suite, what, value):
        _FIGURES[suite][what] = value


@pytest.fixture(scope="session")
def figures():
    return Figures()


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("proof figures")
    for suite in sorted(_FIGURES):
        write(f"{suite}")
        for what, value in _FIGURES[suite].items():
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            write(f"  {what:<60} {shown:>10}")
    target = Path(os.environ.get("PROOF_JSON") or REPO / ".local" / "proof.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({suite: dict(values) for suite, values in _FIGURES.items()}, indent=2) + "\n")
    write(f"figures written to {target}")
