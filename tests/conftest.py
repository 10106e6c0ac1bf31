"""Make the collection importable as ansible_collections.odoo_saas.kit from a plain checkout."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "alone: the file stops the platform, changes what every test shares (the platform playbook's objects, the "
        "cluster-wide RBAC) or counts across a whole server; `make test` runs these files after the others, one at a "
        "time, while the others run two files at a time (pytest-xdist)")
