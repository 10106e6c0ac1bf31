# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SaaS controller's operations, queued in the ledger and run by its workers.

A worker claims a queued operation with `FOR UPDATE SKIP LOCKED` and, in the same
transaction, takes a session advisory lock on it that it holds while the operation runs. A
worker that dies (killed, its node lost) releases that lock with its connection, so a
`running` operation whose lock can be taken is an orphan: the next worker resumes it, which
the operations' steps allow (a run killed half way is finished by running it again).

Operations on one tenant run in the order they were queued: one is claimed only when no
earlier one of its tenant is still waiting or running. An Idempotency-Key belongs to its
token: the same key with the same request returns the operation it made, never a second."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from ..errors import ConflictError
from . import webhooks

LOCK_CLASS = "odoo-saas-kit operation"
COLUMNS = ("id, seq, kind, tenant, arguments, state, actor, idempotency_key, attempts, steps, result, error, "
           "created_at, started_at, finished_at")
FINISHED = ("succeeded", "failed")


@dataclass(frozen=True)
class Operation:
    id: str
    seq: int
    kind: str
    tenant: str
    arguments: dict
    state: str
    actor: str
    idempotency_key: str | None
    attempts: int
    steps: list
    result: dict | None
    error: str | None
    created_at: object
    started_at: object
    finished_at: object

    def as_dict(self):
        def when(value):
            return value.isoformat() if value is not None else None
        return {"id": self.id, "kind": self.kind, "tenant": self.tenant, "arguments": self.arguments,
                "state": self.state, "attempts": self.attempts, "steps": self.steps, "result": self.result,
                "error": self.error, "created_at": when(self.created_at), "started_at": when(self.started_at),
                "finished_at": when(self.finished_at)}


def _operation(row):
    return None if row is None else Operation(*row)


def _request_sha256(kind, tenant, arguments):
    return hashlib.sha256(json.dumps([kind, tenant, arguments], sort_keys=True).encode()).hexdigest()


def enqueue(conn, kind, tenant, arguments, actor, idempotency_key=None, before_insert=None):
    """(operation, created): a new queued operation, or the one this actor's idempotency key
    already made for the same request. The same key with another request is a conflict.
    before_insert(conn), if given, runs in the inserting transaction (a reseller's claim)."""
    digest = _request_sha256(kind, tenant, arguments)
    with conn.transaction():
        if idempotency_key is not None:
            # Two requests with one key at once: the second waits here, then finds the first's.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('odoo-saas-kit idempotency'), hashtext(%s))",
                         (f"{actor}/{idempotency_key}",))
            row = conn.execute(f"SELECT {COLUMNS}, request_sha256 FROM operations WHERE actor = %s AND idempotency_key = %s",
                               (actor, idempotency_key)).fetchone()
            if row is not None:
                if row[-1] != digest:
                    raise ConflictError(f"Idempotency-Key {idempotency_key!r} was used for another request "
                                        f"(operation {row[0]}): send a new key for a new request")
                return _operation(row[:-1]), False
        if before_insert is not None:
            before_insert(conn)
        row = conn.execute(
            f"INSERT INTO operations (id, kind, tenant, arguments, state, actor, idempotency_key, request_sha256) "
            f"VALUES (%s, %s, %s, %s, 'queued', %s, %s, %s) RETURNING {COLUMNS}",
            (f"op-{secrets.token_hex(8)}", kind, tenant, json.dumps(arguments, sort_keys=True), actor,
             idempotency_key, digest)).fetchone()
        conn.execute("INSERT INTO events (tenant, action, detail) VALUES (%s, %s, %s)",
                     (tenant, f"api.{kind}", json.dumps({"operation": row[0], "actor": actor, "arguments": arguments},
                                                        sort_keys=True)))
    return _operation(row), True


def _try_lock(conn, operation_id):
    return conn.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (LOCK_CLASS, operation_id)).fetchone()[0]


def _unlock(conn, operation_id):
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", (LOCK_CLASS, operation_id))


def claim(conn):
    """The next operation for this worker (its connection then holds the operation's lock), or
    None. An orphan (running, its worker gone) comes before anything queued."""
    for (operation_id,) in conn.execute("SELECT id FROM operations WHERE state = 'running' ORDER BY seq").fetchall():
        if not _try_lock(conn, operation_id):
            continue  # its worker is alive
        row = conn.execute(f"UPDATE operations SET attempts = attempts + 1 WHERE id = %s AND state = 'running' "
                           f"RETURNING {COLUMNS}", (operation_id,)).fetchone()
        if row is not None:
            return _operation(row)
        _unlock(conn, operation_id)  # it finished in between
    with conn.transaction():
        row = conn.execute(
            "SELECT id FROM operations o WHERE state = 'queued' AND NOT EXISTS ("
            "  SELECT 1 FROM operations earlier WHERE earlier.tenant = o.tenant AND earlier.seq < o.seq"
            "  AND earlier.state IN ('queued', 'running'))"
            " ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
        if row is None:
            return None
        if not _try_lock(conn, row[0]):  # only a hashtext collision with a running operation's lock
            return None
        row = conn.execute(f"UPDATE operations SET state = 'running', attempts = attempts + 1, started_at = now() "
                           f"WHERE id = %s RETURNING {COLUMNS}", (row[0],)).fetchone()
    return _operation(row)


def add_step(conn, operation_id, message):
    conn.execute("UPDATE operations SET steps = steps || jsonb_build_array(%s::text) WHERE id = %s",
                 (message, operation_id))


def finish(conn, operation_id, result, error=None):
    """Record the end of a claimed operation and release its lock."""
    state = "failed" if error else "succeeded"
    with conn.transaction():
        row = conn.execute(
            "UPDATE operations SET state = %s, result = %s, error = %s, finished_at = now() WHERE id = %s "
            "RETURNING tenant, kind, actor", (state, json.dumps(result, sort_keys=True, default=str), error,
                                              operation_id)).fetchone()
        conn.execute("INSERT INTO events (tenant, action, detail) VALUES (%s, %s, %s)",
                     (row[0], f"api.{row[1]}.{state}", json.dumps({"operation": operation_id, "actor": row[2]})))
        tenant_state = ((result or {}).get("tenant") or {}).get("state")
        payload = {"operation": operation_id, "kind": row[1], "tenant": row[0], "state": state, "error": error,
                   "tenant_state": tenant_state, "external_ref": external_ref(conn, row[0])}
        for event in webhooks.events_of(row[1], state, tenant_state):
            webhooks.emit(conn, event, row[0], payload)
    _unlock(conn, operation_id)


def get(conn, operation_id):
    return _operation(conn.execute(f"SELECT {COLUMNS} FROM operations WHERE id = %s", (operation_id,)).fetchone())


def list_operations(conn, tenant=None, state=None, tenants=None, after=0, limit=50):
    """Operations in the order they were queued, from seq `after` on; `tenants` (a set) limits
    them to those tenants (a reseller's)."""
    query = f"SELECT {COLUMNS} FROM operations WHERE seq > %s"
    values = [after]
    for column, value in (("tenant", tenant), ("state", state)):
        if value is not None:
            query += f" AND {column} = %s"
            values.append(value)
    if tenants is not None:
        query += " AND tenant = ANY(%s)"
        values.append(sorted(tenants))
    query += " ORDER BY seq LIMIT %s"
    values.append(limit)
    return [_operation(row) for row in conn.execute(query, values).fetchall()]


def latest_argument(conn, tenant, argument, before_seq):
    """The value of `argument` in the newest operation on `tenant` before `before_seq` that named
    it and succeeded, or None."""
    row = conn.execute("SELECT arguments -> %s FROM operations WHERE tenant = %s AND arguments ? %s AND seq < %s "
                       "AND state = 'succeeded' ORDER BY seq DESC LIMIT 1", (argument, tenant, argument, before_seq)).fetchone()
    return row and row[0]


def waiting(conn, tenant, kind):
    """True when an operation of `kind` on `tenant` is queued or running."""
    return conn.execute("SELECT EXISTS (SELECT 1 FROM operations WHERE tenant = %s AND kind = %s "
                        "AND state IN ('queued', 'running'))", (tenant, kind)).fetchone()[0]


def external_ref(conn, tenant):
    """The billing system's reference its newest create named, or None."""
    row = conn.execute("SELECT arguments ->> 'external_ref' FROM operations WHERE tenant = %s AND kind = 'create' "
                       "ORDER BY seq DESC LIMIT 1", (tenant,)).fetchone()
    return row and row[0]
