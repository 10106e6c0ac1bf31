"""Benchmarks of issue 5 (1: provisioning side by side, 2: no-op re-run, 3: scale curve).
`make bench` or `python -m bench --help`; docs/performance.md has the figures."""

import sys
from pathlib import Path

# The collection is importable as ansible_collections.odoo_saas.kit from a plain checkout.
REPO = Path(__file__).resolve().parents[1]
for _path in (REPO / "collections", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
