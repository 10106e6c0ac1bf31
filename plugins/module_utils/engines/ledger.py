# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant ledger in the platform database: shared servers, tenants, their hosts and an
append-only event log.

Placement on a shared server happens in one transaction that locks every server row, so
concurrent runs are serialised there and a server can never take more tenants than its
capacity, nor more connections: a server is full when its tenants' connection limits plus its
reserve would pass its max_connections (both read from the server when it is registered).
Functions take an open psycopg connection (autocommit) and run their own transactions; in
check mode they only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import CapacityError, ConflictError, DependencyError

try:
    from psycopg.rows import dict_row
except ImportError:  # reported when a connection is opened
    dict_row = None

STATES = ("provisioning", "active", "suspended", "deleting", "deleted")

# Each migration is applied once, in order, inside one transaction with its version row.
MIGRATIONS = (
    (1, "tenant ledger", """
CREATE TABLE servers (
    name text PRIMARY KEY,
    host text NOT NULL,
    port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    capacity integer NOT NULL CHECK (capacity > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tenants (
    name text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('provisioning', 'active', 'suspended', 'deleting', 'deleted')),
    plan text NOT NULL,
    db_strategy text NOT NULL CHECK (db_strategy IN ('shared', 'dedicated')),
    server text REFERENCES servers (name),
    namespace text NOT NULL,
    database text NOT NULL,
    odoo_version text NOT NULL,
    hosts text[] NOT NULL DEFAULT '{}',
    backup_location text,
    backup_sha256 text,
    backup_size bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_server_live ON tenants (server) WHERE state <> 'deleted';
CREATE TABLE tenant_hosts (
    host text PRIMARY KEY,
    tenant text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE
);
CREATE TABLE events (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
"""),
    (2, "filestore archive of a tenant's backup", """
ALTER TABLE tenants ADD COLUMN filestore_backup jsonb;
"""),
    # Tenants placed before it have no limit recorded: the ledger module fills it in from their
    # plans (fill_connection_limits) and every tenant run records its own.
    (3, "connection budget of shared servers", """
ALTER TABLE servers ADD COLUMN max_connections integer CHECK (max_connections > 0);
ALTER TABLE servers ADD COLUMN reserved_connections integer NOT NULL DEFAULT 0 CHECK (reserved_connections >= 0);
ALTER TABLE tenants ADD COLUMN db_connection_limit integer CHECK (db_connection_limit >= 0);
"""),
    # Many backups per tenant (engines/backup_records). The one backup a removal recorded on
    # its tenant row is carried over: complete when its checksum was recorded, else running
    # (a removal killed while taking it, which its rerun finishes on the tenant row).
    (4, "backups, many per tenant", """
CREATE TABLE backups (
    tenant text NOT NULL,
    id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('manual', 'scheduled', 'pre-update', 'final')),
    state text NOT NULL CHECK (state IN ('running', 'complete', 'failed', 'pruned')),
    target text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    size bigint CHECK (size >= 0),
    parts jsonb NOT NULL DEFAULT '{}',
    encrypted_to text,
    error text,
    expires_at timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX backups_by_tenant ON backups (tenant, started_at DESC);
INSERT INTO backups (tenant, id, kind, state, target, started_at, completed_at, size, parts)
SELECT name,
       'carried-' || to_char(updated_at AT TIME ZONE 'UTC', 'YYYYMMDD-HH24MISS'),
       CASE WHEN state IN ('deleting', 'deleted') THEN 'final' ELSE 'manual' END,
       CASE WHEN backup_sha256 IS NOT NULL THEN 'complete' ELSE 'running' END,
       'controller directory',
       updated_at,
       CASE WHEN backup_sha256 IS NOT NULL THEN updated_at END,
       CASE WHEN backup_sha256 IS NOT NULL THEN backup_size + coalesce((filestore_backup ->> 'size')::bigint, 0) END,
       jsonb_strip_nulls(jsonb_build_object(
           'database', jsonb_build_object('location', backup_location, 'sha256', backup_sha256, 'size', backup_size),
           'filestore', filestore_backup))
FROM tenants WHERE backup_location IS NOT NULL;
"""),
    # The safety backup tenant_restore takes before it replaces a tenant's data.
    (5, "pre-restore backups", """
ALTER TABLE backups DROP CONSTRAINT backups_kind_check;
ALTER TABLE backups ADD CONSTRAINT backups_kind_check
    CHECK (kind IN ('manual', 'scheduled', 'pre-update', 'pre-restore', 'final'));
"""),
    # The SaaS controller (engines/api_tokens.py, engines/operation_queue.py): its tokens, the
    # operations its workers run, and which reseller created which tenant.
    (6, "the controller's tokens and operations", """
CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    name text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('admin', 'reseller', 'read')),
    secret_sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE TABLE tenant_owners (
    tenant text PRIMARY KEY,
    token text NOT NULL REFERENCES api_tokens (id)
);
CREATE TABLE operations (
    id text PRIMARY KEY,
    seq bigserial UNIQUE,
    kind text NOT NULL,
    tenant text NOT NULL,
    arguments jsonb NOT NULL DEFAULT '{}',
    state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    actor text NOT NULL REFERENCES api_tokens (id),
    idempotency_key text,
    request_sha256 text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    steps jsonb NOT NULL DEFAULT '[]',
    result jsonb,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (actor, idempotency_key)
);
CREATE INDEX operations_waiting ON operations (seq) WHERE state IN ('queued', 'running');
CREATE INDEX operations_by_tenant ON operations (tenant, seq DESC);
"""),
    # The controller's webhooks and the outbox of their deliveries (engines/webhooks.py).
    (7, "the controller's webhooks", """
CREATE TABLE webhooks (
    id text PRIMARY KEY,
    url text NOT NULL,
    secret text NOT NULL,
    events text[] NOT NULL,
    actor text NOT NULL REFERENCES api_tokens (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    webhook text NOT NULL REFERENCES webhooks (id),
    event text NOT NULL,
    tenant text,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error text
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class TenantRecord:
    name: str
    state: str
    plan: str
    db_strategy: str
    server: str | None
    namespace: str
    database: str
    odoo_version: str
    hosts: tuple
    backup_location: str | None = None
    backup_sha256: str | None = None
    backup_size: int | None = None
    filestore_backup: dict | None = None  # {location, sha256?, size?}: the archive next to the dump
    db_connection_limit: int | None = None  # its role's CONNECTION LIMIT, counted in its server's budget
    created_at: object = field(default=None, compare=False)  # datetime of its first row: not part of what it is

    def as_dict(self):
        return {
            "name": self.name, "state": self.state, "plan": self.plan, "namespace": self.namespace,
            "odoo_version": self.odoo_version,
            "database": {"strategy": self.db_strategy, "server": self.server or "dedicated", "name": self.database,
                         "connection_limit": self.db_connection_limit},
            "hosts": list(self.hosts),
            "backup": {"location": self.backup_location, "sha256": self.backup_sha256, "size": self.backup_size,
                       "filestore": self.filestore_backup}
            if self.backup_location else None,
        }


def _record(row):
    if row is None:
        return None
    return TenantRecord(
        name=row["name"], state=row["state"], plan=row["plan"], db_strategy=row["db_strategy"], server=row["server"],
        namespace=row["namespace"], database=row["database"], odoo_version=row["odoo_version"],
        hosts=tuple(row["hosts"] or ()), backup_location=row["backup_location"], backup_sha256=row["backup_sha256"],
        backup_size=row["backup_size"], filestore_backup=row.get("filestore_backup"),
        db_connection_limit=row.get("db_connection_limit"), created_at=row.get("created_at"),
    )


def schema_version(conn):
    exists = conn.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(conn, check_mode=False):
    """Apply pending migrations; returns [(version, description)] applied (or to apply)."""
    current = schema_version(conn)
    pending = [(version, description, ddl) for version, description, ddl in MIGRATIONS if version > current]
    if check_mode:
        return [(version, description) for version, description, _ddl in pending]
    applied = []
    with conn.transaction():
        # One migrator at a time; a second one waits here, then finds nothing to do.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('odoo-saas-kit ledger migrations'))")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                     "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        for version, description, ddl in pending:
            if version <= current:
                continue
            conn.execute(ddl)
            conn.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, %s)", (version, description))
            applied.append((version, description))
    return applied


def require_schema(conn):
    version = schema_version(conn)
    if version < SCHEMA_VERSION:
        raise DependencyError("ledger", f"its schema is at version {version}, this collection needs {SCHEMA_VERSION}: "
                                        "run playbooks/platform.yml to migrate it")


def register_server(conn, name, host, port, capacity, max_connections=None, reserved_connections=0, check_mode=False):
    """Insert or update a shared server's row; returns True when it changed. max_connections
    None: no connection budget is known (placement then counts tenants only)."""
    wanted = (host, port, capacity, max_connections, reserved_connections)
    row = conn.execute("SELECT host, port, capacity, max_connections, reserved_connections FROM servers WHERE name = %s",
                       (name,)).fetchone()
    if row is not None and tuple(row) == wanted:
        return False
    if check_mode:
        return True
    conn.execute(
        "INSERT INTO servers (name, host, port, capacity, max_connections, reserved_connections) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET host = excluded.host, port = excluded.port, "
        "capacity = excluded.capacity, max_connections = excluded.max_connections, "
        "reserved_connections = excluded.reserved_connections",
        (name, *wanted),
    )
    return True


@dataclass(frozen=True)
class ServerUsage:
    """A shared server's tenants and connection budget as the ledger counts them."""

    tenants: int
    capacity: int
    connections: int  # the sum of its tenants' connection limits
    max_connections: int | None
    reserved_connections: int

    def room_for(self, connection_limit):
        """None when one more tenant with that connection limit fits, else which limit it passes."""
        if self.tenants >= self.capacity:
            return f"tenants {self.tenants}/{self.capacity}"
        if self.max_connections is not None and self.connections + connection_limit + self.reserved_connections > self.max_connections:
            return (f"connections {self.connections} + {connection_limit} (this tenant) + {self.reserved_connections} reserved "
                    f"= {self.connections + connection_limit + self.reserved_connections} > max_connections {self.max_connections}")
        return None

    def as_dict(self):
        free = None
        if self.max_connections is not None:
            free = self.max_connections - self.reserved_connections - self.connections
        return {"tenants": self.tenants, "capacity": self.capacity,
                "connections": {"limits": self.connections, "reserved": self.reserved_connections,
                                "max_connections": self.max_connections, "free": free}}


def _usage(conn, lock=False, except_tenant=None):
    """{server: ServerUsage}, the tenant except_tenant left out; lock: the server rows FOR UPDATE."""
    servers = conn.execute("SELECT name, capacity, max_connections, reserved_connections FROM servers ORDER BY name"
                           + (" FOR UPDATE" if lock else "")).fetchall()
    used = {name: (count, connections) for name, count, connections in conn.execute(
        "SELECT server, count(*), coalesce(sum(db_connection_limit), 0) FROM tenants "
        "WHERE state <> 'deleted' AND server IS NOT NULL AND name IS DISTINCT FROM %s GROUP BY server",
        (except_tenant,),
    ).fetchall()}
    return {name: ServerUsage(used.get(name, (0, 0))[0], capacity, int(used.get(name, (0, 0))[1]), max_connections,
                              reserved)
            for name, capacity, max_connections, reserved in servers}


def server_usage(conn):
    """{server: ServerUsage} for every registered server."""
    return _usage(conn)


def fill_connection_limits(conn, limits, check_mode=False):
    """Record the connection limit of tenants placed before the ledger counted them, from their
    plans' ({plan: limit}). Returns (how many got one, [(tenant, plan)] whose plan is gone: they
    count no connections until a run of theirs records it)."""
    missing = conn.execute("SELECT name, plan FROM tenants WHERE db_connection_limit IS NULL AND state <> 'deleted'").fetchall()
    filled = [(limits[plan], name) for name, plan in missing if plan in limits]
    if filled and not check_mode:
        with conn.transaction():
            for limit, name in filled:
                conn.execute("UPDATE tenants SET db_connection_limit = %s WHERE name = %s AND db_connection_limit IS NULL",
                             (limit, name))
    return len(filled), [(name, plan) for name, plan in missing if plan not in limits]


def lock_tenant(conn, name):
    """Wait for the tenant's advisory lock and hold it until the connection closes: runs on
    one tenant (parallel forks, a suspend racing a plan change) then take turns, so one run's
    fresh passwords, role and objects never interleave with another's. A run that dies
    releases it with its connection."""
    conn.execute("SELECT pg_advisory_lock(hashtext('odoo-saas-kit tenant'), hashtext(%s))", (name,))


def lock_tenants(conn, names):
    """lock_tenant for each name, in the order given (a fleet's: name order), in one round trip."""
    with conn.cursor() as cur:
        cur.executemany("SELECT pg_advisory_lock(hashtext('odoo-saas-kit tenant'), hashtext(%s))", [(name,) for name in names])


def unlock_tenant(conn, name):
    conn.execute("SELECT pg_advisory_unlock(hashtext('odoo-saas-kit tenant'), hashtext(%s))", (name,))


def get_tenant(conn, name):
    with conn.cursor(row_factory=dict_row) as cur:
        return _record(cur.execute("SELECT * FROM tenants WHERE name = %s", (name,)).fetchone())


def list_tenants(conn, include_deleted=False):
    query = "SELECT * FROM tenants" + ("" if include_deleted else " WHERE state <> 'deleted'") + " ORDER BY name"
    with conn.cursor(row_factory=dict_row) as cur:
        return [_record(row) for row in cur.execute(query).fetchall()]


def page_tenants(conn, after="", limit=50, names=None, **filters):
    """Up to `limit` tenants by name after `after`; filters: state, plan, server (equality; no
    state: every tenant not deleted); names: only those (a set)."""
    query, values = "SELECT * FROM tenants WHERE name > %s", [after]
    if "state" not in filters:
        query += " AND state <> 'deleted'"
    for column in ("state", "plan", "server"):
        if column in filters:
            query += f" AND {column} = %s"
            values.append(filters[column])
    if names is not None:
        query += " AND name = ANY(%s)"
        values.append(sorted(names))
    query += " ORDER BY name LIMIT %s"
    values.append(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        return [_record(row) for row in cur.execute(query, values).fetchall()]


def host_owners(conn, hosts):
    """{host: tenant} for those of `hosts` that some tenant already owns."""
    rows = conn.execute("SELECT host, tenant FROM tenant_hosts WHERE host = ANY(%s)", (list(hosts),)).fetchall()
    return dict(rows)


def check_hosts_free(conn, tenant, hosts):
    taken = {host: owner for host, owner in host_owners(conn, hosts).items() if owner != tenant}
    if taken:
        listed = ", ".join(f"{host} (tenant {owner})" for host, owner in sorted(taken.items()))
        raise ConflictError(f"domains: already served by another tenant: {listed}. Remove them there first.")


def _choose_server(conn, tenant_name, connection_limit):
    usage = _usage(conn, lock=True, except_tenant=tenant_name)
    if not usage:
        raise CapacityError("no shared PostgreSQL server is registered in the ledger: run playbooks/platform.yml")
    full = {}
    for name, server in usage.items():
        full[name] = server.room_for(connection_limit)
        if full[name] is None:
            return name
    reasons = "; ".join(f"{name}: {reason}" for name, reason in full.items())
    raise CapacityError(f"every shared PostgreSQL server is full ({reasons}): raise odoo_saas_shared_server_count "
                        "and run playbooks/platform.yml to add one, or choose a dedicated plan")


def _check_budget(conn, tenant_name, server, connection_limit):
    """A living shared tenant whose plan now asks for more connections must still fit its server."""
    usage = _usage(conn, lock=True, except_tenant=tenant_name).get(server)
    if usage is None or usage.max_connections is None:
        return
    needed = usage.connections + connection_limit + usage.reserved_connections
    if needed > usage.max_connections:
        raise CapacityError(
            f"plan: db_connection_limit {connection_limit} does not fit {server}'s connection budget: its other tenants' "
            f"limits {usage.connections} + {connection_limit} + {usage.reserved_connections} reserved = {needed} > "
            f"max_connections {usage.max_connections}. Choose a plan with a lower db_connection_limit, or raise the "
            "server's max_connections (postgres_shared_settings) and run playbooks/platform.yml. Nothing was changed.")


def reserve(conn, spec, check_mode=False):
    """Record the tenant (state provisioning unless it already lives) and place it.

    Returns (record, changed). A shared tenant keeps the server it has; a new one gets the
    first server with room, chosen while every server row is locked.
    """
    with conn.transaction():
        existing = get_tenant(conn, spec.name)
        limit = spec.plan.db_connection_limit
        if existing is not None and existing.state != "deleted":
            server = existing.server
            if spec.db_strategy != existing.db_strategy:
                raise ConflictError(f"db_strategy: tenant {spec.name} lives on {existing.db_strategy} PostgreSQL; "
                                    "moving it between strategies is a migration, not a change of this option")
            if server is not None and limit > (existing.db_connection_limit or 0):
                _check_budget(conn, spec.name, server, limit)
        else:
            server = _choose_server(conn, spec.name, limit) if spec.db_strategy == "shared" else None
        check_hosts_free(conn, spec.name, spec.hosts)
        living = existing is not None and existing.state != "deleted"
        # A tenant provisioned again after deletion starts a new life: its old backup stays in
        # the event log, never mistaken for a backup of the new database.
        wanted = TenantRecord(
            name=spec.name, state=existing.state if living else "provisioning", plan=spec.plan.name,
            db_strategy=spec.db_strategy, server=server, namespace=spec.namespace, database=spec.database,
            odoo_version=spec.odoo_version, hosts=tuple(spec.hosts),
            backup_location=existing.backup_location if living else None,
            backup_sha256=existing.backup_sha256 if living else None,
            backup_size=existing.backup_size if living else None,
            filestore_backup=existing.filestore_backup if living else None,
            db_connection_limit=limit,
        )
        if existing == wanted:
            return wanted, False
        if check_mode:
            return wanted, True
        conn.execute(
            "INSERT INTO tenants (name, state, plan, db_strategy, server, namespace, database, odoo_version, hosts, "
            "db_connection_limit) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "state = excluded.state, plan = excluded.plan, db_strategy = excluded.db_strategy, server = excluded.server, "
            "namespace = excluded.namespace, database = excluded.database, odoo_version = excluded.odoo_version, "
            "hosts = excluded.hosts, db_connection_limit = excluded.db_connection_limit, backup_location = %s, "
            "backup_sha256 = %s, backup_size = %s, filestore_backup = %s, updated_at = now()",
            (spec.name, wanted.state, spec.plan.name, spec.db_strategy, server, spec.namespace, spec.database,
             spec.odoo_version, list(spec.hosts), limit, wanted.backup_location, wanted.backup_sha256,
             wanted.backup_size, _json(wanted.filestore_backup)),
        )
        conn.execute("DELETE FROM tenant_hosts WHERE tenant = %s AND NOT (host = ANY(%s))", (spec.name, list(spec.hosts)))
        for host in spec.hosts:
            conn.execute("INSERT INTO tenant_hosts (host, tenant) VALUES (%s, %s) ON CONFLICT (host) DO NOTHING",
                         (host, spec.name))
        add_event(conn, spec.name, "updated" if living else "reserved",
                  {"plan": spec.plan.name, "server": server, "hosts": list(spec.hosts), "connection_limit": limit})
        return wanted, True


def set_state(conn, name, state, check_mode=False, filestore=None, **backup):
    """Move a tenant to `state`, with the dump's details (location, sha256, size) and the
    filestore archive's (a dict) when given; True when it changed."""
    if state not in STATES:
        raise ValueError(state)
    current = get_tenant(conn, name)
    if current is None:
        return False
    fields = {"backup_location": backup.get("location"), "backup_sha256": backup.get("sha256"), "backup_size": backup.get("size")}
    same_backup = not backup or all(getattr(current, k) == v for k, v in fields.items())
    same_filestore = filestore is None or current.filestore_backup == filestore
    if current.state == state and same_backup and same_filestore:
        return False
    if check_mode:
        return True
    with conn.transaction():
        if backup:
            conn.execute("UPDATE tenants SET backup_location = %s, backup_sha256 = %s, backup_size = %s WHERE name = %s",
                         (fields["backup_location"], fields["backup_sha256"], fields["backup_size"], name))
        if filestore is not None:
            conn.execute("UPDATE tenants SET filestore_backup = %s WHERE name = %s", (_json(filestore), name))
        conn.execute("UPDATE tenants SET state = %s, updated_at = now() WHERE name = %s", (state, name))
        if state == "deleted":
            conn.execute("DELETE FROM tenant_hosts WHERE tenant = %s", (name,))
        detail = {"backup": fields} if backup else {}
        if filestore is not None:
            detail["filestore"] = filestore
        add_event(conn, name, state, detail)
    return True


def _json(value):
    return None if value is None else json.dumps(value, sort_keys=True)


def add_event(conn, tenant, action, detail=None):
    conn.execute("INSERT INTO events (tenant, action, detail) VALUES (%s, %s, %s)",
                 (tenant, action, json.dumps(detail or {}, sort_keys=True)))
