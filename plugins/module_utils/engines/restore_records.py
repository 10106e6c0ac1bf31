# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's restores in the ledger's append-only event log: `restore-started` (the run's id,
what it restores, the replicas Odoo had) before anything is changed, then `restore-finished`
or `restore-failed` with the same run id. A started run without an end is unfinished: a rerun
of tenant_restore goes on with it (its id, its safety backup, the replicas to bring back)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from .ledger import add_event


@dataclass(frozen=True)
class RestoreRun:
    run_id: str
    started_at: datetime
    source: dict  # {"tenant", "backup"} or {"import"}
    replicas: dict  # Deployment name -> replicas before Odoo was stopped
    safety_backup: bool


def start(conn, tenant, run_id, source, replicas, safety_backup):
    add_event(conn, tenant, "restore-started", {"run": run_id, "source": source, "replicas": replicas,
                                                "safety_backup": safety_backup})
    return unfinished(conn, tenant)


def end(conn, tenant, run_id, failed=None, **detail):
    add_event(conn, tenant, "restore-failed" if failed else "restore-finished",
              {"run": run_id, **({"error": failed} if failed else {}), **detail})


def unfinished(conn, tenant):
    """The tenant's latest restore run that has not ended, or None."""
    row = conn.execute(
        "SELECT s.at, s.detail FROM events s WHERE s.tenant = %s AND s.action = 'restore-started' "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant = s.tenant "
        "AND e.action IN ('restore-finished', 'restore-failed') AND e.detail ->> 'run' = s.detail ->> 'run') "
        "ORDER BY s.id DESC LIMIT 1", (tenant,)).fetchone()
    if row is None:
        return None
    detail = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    return RestoreRun(run_id=detail["run"], started_at=row[0], source=detail["source"],
                      replicas=detail.get("replicas") or {}, safety_backup=bool(detail.get("safety_backup", True)))
