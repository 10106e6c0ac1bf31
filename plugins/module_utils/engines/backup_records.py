# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's backups in the ledger: one row per backup (migration 4 in engines/ledger).

A row is `running` from before its Job is created, so a run killed after that finds the Job
and its backup id instead of starting a second one; `complete` once the store holds its
manifest, with the manifest's parts, sizes and checksums; `failed` with the error the Job
gave; `pruned` once retention removed it from the store (the row stays: the history). Every
change also goes to the append-only event log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from .ledger import add_event

try:
    from psycopg.rows import dict_row
except ImportError:  # reported when a connection is opened
    dict_row = None

STATES = ("running", "complete", "failed", "pruned")


@dataclass(frozen=True)
class BackupRecord:
    tenant: str
    id: str
    kind: str
    state: str
    target: str
    started_at: datetime
    completed_at: datetime | None = None
    size: int | None = None
    parts: dict | None = None
    encrypted_to: str | None = None
    error: str | None = None
    expires_at: datetime | None = None

    @property
    def taken_at(self):  # what request/retention reads
        return self.started_at

    def as_dict(self):
        return {"id": self.id, "kind": self.kind, "state": self.state, "target": self.target,
                "started_at": self.started_at.isoformat(),
                "completed_at": self.completed_at.isoformat() if self.completed_at else None,
                "size": self.size, "parts": self.parts or {}, "encrypted": bool(self.encrypted_to),
                "error": self.error, "expires_at": self.expires_at.isoformat() if self.expires_at else None}


def _record(row):
    return None if row is None else BackupRecord(**row)


def get(conn, tenant, backup_id):
    with conn.cursor(row_factory=dict_row) as cur:
        return _record(cur.execute("SELECT * FROM backups WHERE tenant = %s AND id = %s", (tenant, backup_id)).fetchone())


def list_for(conn, tenant, states=STATES):
    """The tenant's backups in those states, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM backups WHERE tenant = %s AND state = ANY(%s) ORDER BY started_at DESC, id DESC",
                           (tenant, list(states))).fetchall()
    return [_record(row) for row in rows]


def last_complete(conn, tenant):
    found = list_for(conn, tenant, ("complete",))
    return found[0] if found else None


def last_complete_by_tenant(conn):
    """{tenant: its newest complete backup} for every tenant, with one query (fleet reads)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT DISTINCT ON (tenant) * FROM backups WHERE state = 'complete' "
                           "ORDER BY tenant, started_at DESC, id DESC").fetchall()
    return {row["tenant"]: _record(row) for row in rows}


def removal_started_at(conn, tenant):
    """When the tenant's current removal began (its latest `deleting` event), or None."""
    return conn.execute("SELECT max(at) FROM events WHERE tenant = %s AND action = 'deleting'", (tenant,)).fetchone()[0]


def start(conn, tenant, backup_id, kind, target, encrypted_to=None, started_at=None):
    """Record a backup as running; False when it already has a row (a rerun)."""
    with conn.transaction():
        inserted = conn.execute(
            "INSERT INTO backups (tenant, id, kind, state, target, encrypted_to, started_at) "
            "VALUES (%s, %s, %s, 'running', %s, %s, coalesce(%s, now())) ON CONFLICT (tenant, id) DO NOTHING",
            (tenant, backup_id, kind, target, encrypted_to, started_at)).rowcount
        if inserted:
            add_event(conn, tenant, "backup-started", {"backup": backup_id, "kind": kind, "target": target})
    return bool(inserted)


def complete(conn, tenant, manifest):
    """Record the manifest the store holds; False when the row already said so."""
    parts = {name: {"key": part.key, "size": part.size, "sha256": part.sha256, "entries": part.entries}
             for name, part in manifest.parts.items()}
    with conn.transaction():
        changed = conn.execute(
            "UPDATE backups SET state = 'complete', parts = %s, size = %s, completed_at = %s, error = NULL "
            "WHERE tenant = %s AND id = %s AND state <> 'complete'",
            (json.dumps(parts, sort_keys=True), manifest.size, manifest.completed_at, tenant, manifest.backup_id)).rowcount
        if changed:
            add_event(conn, tenant, "backup-complete", {"backup": manifest.backup_id, "size": manifest.size})
    return bool(changed)


def fail(conn, tenant, backup_id, error):
    with conn.transaction():
        changed = conn.execute("UPDATE backups SET state = 'failed', error = %s, completed_at = now() "
                               "WHERE tenant = %s AND id = %s AND state = 'running'", (error, tenant, backup_id)).rowcount
        if changed:
            add_event(conn, tenant, "backup-failed", {"backup": backup_id, "error": error})
    return bool(changed)


def mark_pruned(conn, tenant, backup_ids):
    if not backup_ids:
        return 0
    with conn.transaction():
        changed = conn.execute("UPDATE backups SET state = 'pruned' WHERE tenant = %s AND id = ANY(%s) "
                               "AND state <> 'pruned'", (tenant, list(backup_ids))).rowcount
        if changed:
            add_event(conn, tenant, "backups-pruned", {"backups": sorted(backup_ids)})
    return changed


def set_expiry(conn, tenant, backup_id, expires_at):
    """When a final backup may be purged (soft delete); set once, by the removal that took it."""
    with conn.transaction():
        changed = conn.execute("UPDATE backups SET expires_at = %s WHERE tenant = %s AND id = %s AND expires_at IS NULL",
                               (expires_at, tenant, backup_id)).rowcount
        if changed:
            add_event(conn, tenant, "backup-expires", {"backup": backup_id, "at": expires_at.isoformat()})
    return bool(changed)


def expired(conn, now):
    """Complete backups whose expiry has passed (a removed tenant's final ones), by tenant."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM backups WHERE state = 'complete' AND expires_at IS NOT NULL "
                           "AND expires_at <= %s ORDER BY tenant, started_at", (now,)).fetchall()
    return [_record(row) for row in rows]
