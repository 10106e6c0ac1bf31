# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant_backup module's entry (take one now) and tenant_backups' (list, verify one)."""

from __future__ import annotations

import tempfile
from contextlib import closing
from datetime import datetime, timezone

from ..engines import backup_records, backup_set
from ..engines.connections import open_connections
from ..errors import SaasError
from ..operations.backups import open_target, prune, take_backup
from ..operations.run import Run
from ..request.naming import check_tenant_name
from ..request.spec import load_platform
from .harness import guarded, step_recorder, tenant_run

# The tenant_backup module's options (without the platform's), also what the controller's
# backup requests take.
BACKUP_ARGS = dict(prune=dict(type="bool", default=False))


def run_tenant_backup(params, check_mode, progress=None):
    """Returns (result, failure message or None)."""
    steps, say = step_recorder(progress)

    result = {"changed": False, "actions": [], "diff": [], "steps": steps, "backup": None, "pruned": []}
    runs = []

    def body(opened):
        run, record = tenant_run(opened, params, check_mode, say)
        runs.append(run)
        taken = take_backup(run, record)
        result["backup"] = taken.as_dict() if taken else None
        if params.get("prune"):
            result["pruned"] = prune(run, record)

    failure = guarded(params, body)
    for run in runs:
        result.update(changed=run.changed, actions=run.actions, diff=run.diffs)
    return result, failure


def _verified(store, manifest, identity):
    with tempfile.TemporaryDirectory(prefix="odoo-saas-verify-") as scratch:
        paths = {part: backup_set.fetch_part(store, manifest, part, scratch, identity) for part in backup_set.PART_FILES}
        entries = backup_set.verify_parts(paths)
    return {"checksums": "match", "database_entries": entries["database"], "filestore_entries": entries["filestore"]}


def run_tenant_backups(params):
    """The tenant's backups as the ledger and the store know them; with verify, one read back."""
    result = {"changed": False, "backups": [], "last_complete": None, "incomplete_in_store": [], "verified": None}

    def body(opened):
        platform = load_platform(params)
        name = check_tenant_name(params.get("name"))
        verify = params.get("verify")
        if verify:
            backup_set.check_backup_id(verify, "verify")
        connections = opened.enter_context(closing(open_connections(params)))
        run = Run(connections, platform, check_mode=True)
        settings, store = open_target(run)
        listing = backup_set.list_backups(store, name)
        in_store = {manifest.backup_id: manifest for manifest in listing.complete}
        rows = backup_records.list_for(connections.ledger, name)
        now = datetime.now(timezone.utc)
        result["backups"] = [dict(row.as_dict(), in_store=row.id in in_store, in_ledger=True,
                                  age_seconds=int((now - row.started_at).total_seconds())) for row in rows]
        known = {row.id for row in rows}
        result["backups"] += [{"id": m.backup_id, "kind": m.kind, "state": "complete", "size": m.size,
                               "started_at": m.started_at, "completed_at": m.completed_at, "in_store": True,
                               "in_ledger": False, "encrypted": bool(m.encrypted_to)}
                              for m in listing.complete if m.backup_id not in known]
        last = backup_records.last_complete(connections.ledger, name)
        result["last_complete"] = last.as_dict() if last else None
        result["incomplete_in_store"] = list(listing.incomplete)
        if verify:
            if verify not in in_store:
                raise SaasError(f"verify: tenant {name} has no complete backup {verify} in {settings.target.describe()}")
            result["verified"] = dict(_verified(store, in_store[verify], settings.identity), id=verify)

    return result, guarded(params, body)
