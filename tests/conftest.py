"""Make the collection importable as ansible_collections.odoo_saas.kit from a plain checkout."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
