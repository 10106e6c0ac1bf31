"""The ledger on a real PostgreSQL server: migrations, placement under concurrency, hosts."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records, backup_set, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import CapacityError, ConflictError, DependencyError
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import build_spec
from tests.cluster import postgres
from tests.integration import tenants
from tests.unit.plans_fixture import platform

LEDGER = postgres.SERVERS[0]


def _connect(dbname):
    return psycopg.connect(host="127.0.0.1", port=LEDGER.port, user="postgres", password=LEDGER.password(),
                           dbname=dbname, autocommit=True)


@pytest.fixture
def ledger_db():
    name = f"ledger_test_{uuid.uuid4().hex[:8]}"
    with _connect("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _connect("postgres") as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def conn(ledger_db):
    with _connect(ledger_db) as connection:
        yield connection


def _spec(name, plan="small", **extra):
    return build_spec({"name": name, "plan": plan, **extra}, platform())


def test_migrations_apply_once_and_check_mode_only_reads(conn):
    every = [(version, description) for version, description, _ddl in ledger.MIGRATIONS]
    assert every[0] == (1, "tenant ledger") and [version for version, _text in every] == list(range(1, len(every) + 1))
    assert ledger.migrate(conn, check_mode=True) == every
    assert ledger.schema_version(conn) == 0
    assert ledger.migrate(conn) == every
    assert ledger.migrate(conn) == []
    ledger.require_schema(conn)


def test_a_ledger_at_an_older_version_is_brought_up_to_date(conn):
    ledger.migrate(conn)
    conn.execute("DROP TABLE backups, outbox, webhooks, operations, tenant_owners, api_tokens")
    conn.execute("ALTER TABLE tenants DROP COLUMN filestore_backup, DROP COLUMN db_connection_limit")
    conn.execute("ALTER TABLE servers DROP COLUMN max_connections, DROP COLUMN reserved_connections")
    conn.execute("DELETE FROM schema_migrations WHERE version > 1")
    with pytest.raises(DependencyError, match="schema is at version 1"):
        ledger.require_schema(conn)
    assert [version for version, _text in ledger.migrate(conn)] == list(range(2, ledger.SCHEMA_VERSION + 1))
    ledger.require_schema(conn)


def test_register_server_is_idempotent(conn):
    ledger.migrate(conn)
    assert ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    assert not ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    assert ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 40, check_mode=True)
    assert tenants.server_counts(conn) == {"postgres-shared-1": (0, 50)}
    assert ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50, max_connections=500, reserved_connections=5)
    assert not ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50, max_connections=500,
                                      reserved_connections=5)
    assert ledger.server_usage(conn)["postgres-shared-1"].as_dict() == {
        "tenants": 0, "capacity": 50, "connections": {"limits": 0, "reserved": 5, "max_connections": 500, "free": 495}}


def test_concurrent_placement_never_overfills_a_server(ledger_db, conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    ledger.register_server(conn, "postgres-shared-2", "127.0.0.1", 15434, 50)
    names = [f"tenant-{i:03d}" for i in range(60)]
    errors = []

    def provision(batch):
        with _connect(ledger_db) as own:
            for name in batch:
                try:
                    ledger.reserve(own, _spec(name))
                except Exception as error:  # noqa: BLE001 - collected and asserted below
                    errors.append(error)

    threads = [threading.Thread(target=provision, args=(names[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tenants.server_counts(conn) == {"postgres-shared-1": (50, 50), "postgres-shared-2": (10, 50)}


def test_full_servers_give_a_clear_error(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 1)
    ledger.reserve(conn, _spec("first"))
    with pytest.raises(CapacityError, match=r"postgres-shared-1: tenants 1/1.*odoo_saas_shared_server_count"):
        ledger.reserve(conn, _spec("second"))
    assert ledger.get_tenant(conn, "second") is None


def test_reserve_is_idempotent_and_keeps_the_server(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    record, changed = ledger.reserve(conn, _spec("acme"))
    assert changed and record.server == "postgres-shared-1" and record.state == "provisioning"
    assert ledger.reserve(conn, _spec("acme")) == (record, False)
    ledger.register_server(conn, "postgres-shared-0", "127.0.0.1", 15434, 50)  # sorts first
    assert ledger.reserve(conn, _spec("acme"))[0].server == "postgres-shared-1"


def test_a_domain_belongs_to_one_tenant(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    ledger.reserve(conn, _spec("acme", domains=["shop.example.com"]))
    with pytest.raises(ConflictError, match=r"shop.example.com \(tenant acme\)"):
        ledger.reserve(conn, _spec("other", domains=["shop.example.com"]))
    ledger.set_state(conn, "acme", "deleted")
    ledger.reserve(conn, _spec("other", domains=["shop.example.com"]))


def test_dedicated_tenants_take_no_shared_capacity(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 1)
    record = ledger.reserve(conn, _spec("big-co", plan="large"))[0]
    assert record.server is None and record.db_strategy == "dedicated"
    assert tenants.server_counts(conn)["postgres-shared-1"] == (0, 1)


def test_a_server_is_full_when_the_connection_limits_would_pass_max_connections(conn):
    """small's limit is 20: with max_connections 50 and 5 reserved, two fit (40 + 5), a third
    (60 + 5 > 50) goes to the next server although the first has tenant room left."""
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50, max_connections=50, reserved_connections=5)
    ledger.register_server(conn, "postgres-shared-2", "127.0.0.1", 15434, 50, max_connections=30, reserved_connections=5)
    assert [ledger.reserve(conn, _spec(name))[0].server for name in ("one", "two", "three")] == [
        "postgres-shared-1", "postgres-shared-1", "postgres-shared-2"]
    with pytest.raises(CapacityError) as refused:
        ledger.reserve(conn, _spec("four"))
    message = str(refused.value)
    assert "postgres-shared-1: connections 40 + 20 (this tenant) + 5 reserved = 65 > max_connections 50" in message
    assert "postgres-shared-2: connections 20 + 20 (this tenant) + 5 reserved = 45 > max_connections 30" in message
    assert ledger.get_tenant(conn, "four") is None
    assert ledger.server_usage(conn)["postgres-shared-1"].as_dict()["connections"] == {
        "limits": 40, "reserved": 5, "max_connections": 50, "free": 5}


def test_a_plan_change_must_fit_the_connection_budget_of_the_tenants_server(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50, max_connections=60, reserved_connections=5)
    ledger.reserve(conn, _spec("one"))
    ledger.reserve(conn, _spec("two"))
    # medium's limit is 40: 20 (one) + 40 + 5 = 65 > 60.
    with pytest.raises(CapacityError, match=r"db_connection_limit 40 does not fit postgres-shared-1.*20 \+ 40 \+ 5 reserved = 65 > "
                                            r"max_connections 60"):
        ledger.reserve(conn, _spec("two", plan="medium"))
    assert ledger.get_tenant(conn, "two").plan == "small" and ledger.get_tenant(conn, "two").db_connection_limit == 20
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50, max_connections=100, reserved_connections=5)
    record, changed = ledger.reserve(conn, _spec("two", plan="medium"))
    assert changed and record.plan == "medium" and record.db_connection_limit == 40


def test_tenants_placed_before_the_budget_get_their_limit_from_their_plan(conn):
    ledger.migrate(conn)
    ledger.register_server(conn, "postgres-shared-1", "127.0.0.1", 15433, 50)
    ledger.reserve(conn, _spec("old"))
    conn.execute("UPDATE tenants SET db_connection_limit = NULL")
    assert ledger.fill_connection_limits(conn, {"medium": 40}) == (0, [("old", "small")])
    assert ledger.fill_connection_limits(conn, {"small": 20}, check_mode=True) == (1, [])
    assert ledger.get_tenant(conn, "old").db_connection_limit is None
    assert ledger.fill_connection_limits(conn, {"small": 20}) == (1, [])
    assert ledger.get_tenant(conn, "old").db_connection_limit == 20
    assert ledger.fill_connection_limits(conn, {"small": 20}) == (0, [])


def test_the_event_log_is_append_only(conn):
    ledger.migrate(conn)
    ledger.add_event(conn, "acme", "reserved")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE events SET action = 'x'")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("DELETE FROM events")


def _apply_up_to(conn, version):
    """Migrate a fresh ledger only as far as `version` (as an older collection left it)."""
    conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, description text NOT NULL, "
                 "applied_at timestamptz NOT NULL DEFAULT now())")
    for number, description, ddl in ledger.MIGRATIONS:
        if number <= version:
            conn.execute(ddl)
            conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (number, description))


def test_the_backup_a_tenant_row_held_is_carried_over_into_the_backups_table(conn):
    _apply_up_to(conn, 3)
    conn.execute("INSERT INTO tenants (name, state, plan, db_strategy, namespace, database, odoo_version, "
                 "backup_location, backup_sha256, backup_size, filestore_backup) VALUES "
                 "('gone', 'deleted', 'small', 'shared', 'tenant-gone', 'gone', '18.0', '/b/gone.dump', 'ab', 10, "
                 "'{\"location\": \"/b/gone.tar.gz\", \"sha256\": \"cd\", \"size\": 5}'), "
                 "('halfway', 'deleting', 'small', 'shared', 'tenant-halfway', 'halfway', '18.0', '/b/h.dump', NULL, "
                 "NULL, NULL), "
                 "('plain', 'active', 'small', 'shared', 'tenant-plain', 'plain', '18.0', NULL, NULL, NULL, NULL)")
    assert [version for version, _text in ledger.migrate(conn)] == list(range(4, ledger.SCHEMA_VERSION + 1))
    gone = backup_records.list_for(conn, "gone")
    assert [(b.kind, b.state, b.size, b.target) for b in gone] == [("final", "complete", 15, "controller directory")]
    assert gone[0].parts == {"database": {"location": "/b/gone.dump", "sha256": "ab", "size": 10},
                             "filestore": {"location": "/b/gone.tar.gz", "sha256": "cd", "size": 5}}
    assert [(b.kind, b.state, b.size) for b in backup_records.list_for(conn, "halfway")] == [("final", "running", None)]
    assert backup_records.list_for(conn, "plain") == []


def test_a_backup_row_runs_then_completes_or_fails_once_with_events(conn):
    ledger.migrate(conn)
    assert backup_records.start(conn, "acme", "20261202-010203-manual-abc123", "manual", "s3 x/y")
    assert not backup_records.start(conn, "acme", "20261202-010203-manual-abc123", "manual", "s3 x/y")
    manifest = backup_set.Manifest(
        tenant="acme", backup_id="20261202-010203-manual-abc123", kind="manual", plan="small", odoo_version="18.0",
        database="acme", started_at="2026-12-02T01:02:03+00:00", completed_at="2026-12-02T01:03:00+00:00",
        encrypted_to=None, parts={name: backup_set.Part(key=f"acme/x/{name}", size=7, sha256="00", entries=1)
                                  for name in backup_set.PART_FILES})
    assert backup_records.complete(conn, "acme", manifest)
    assert not backup_records.complete(conn, "acme", manifest)
    assert not backup_records.fail(conn, "acme", manifest.backup_id, "late error"), "a complete backup never fails"
    done = backup_records.last_complete(conn, "acme")
    assert (done.state, done.size, done.parts["database"]["key"]) == ("complete", 14, "acme/x/database")
    assert backup_records.start(conn, "acme", "20261202-020000-scheduled-def456", "scheduled", "s3 x/y")
    assert backup_records.fail(conn, "acme", "20261202-020000-scheduled-def456", "store unreachable")
    assert [b.state for b in backup_records.list_for(conn, "acme")] == ["failed", "complete"]
    assert backup_records.mark_pruned(conn, "acme", ["20261202-020000-scheduled-def456"]) == 1
    actions = [row[0] for row in conn.execute("SELECT action FROM events WHERE tenant = 'acme' ORDER BY id")]
    assert actions == ["backup-started", "backup-complete", "backup-started", "backup-failed", "backups-pruned"]
