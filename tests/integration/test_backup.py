"""Verified pg_dump backups against the real local shared server postgres-shared-1: the file is
private, checksummed, readable by pg_restore and restores the rows; a failed backup leaves
nothing behind and never shows the password."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import stat
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup, pg
from tests.cluster import postgres

SHARED = next(server for server in postgres.SERVERS if server.name == "postgres-shared-1")
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


@pytest.fixture
def tenant(admin):
    """A provisioned tenant whose database holds a table of 500 rows, owned by the tenant's role."""
    name = f"test_backup_{uuid.uuid4().hex[:10]}"
    want = pg.TenantDatabase(role=name, database=name, password=secrets.token_urlsafe(18), connection_limit=5)
    pg.apply_statements(admin, pg.plan_tenant_database(admin, want))
    with psycopg.connect(host="127.0.0.1", port=SHARED.port, user=want.role, password=want.password,
                         dbname=want.database) as conn:
        conn.execute("CREATE TABLE partner (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO partner (name) SELECT 'partner ' || g FROM generate_series(1, 500) g")
    yield want
    pg.drop_tenant_database(admin, want.role, want.database, execute=True)


@pytest.fixture
def scratch_database(admin):
    name = f"test_restore_{uuid.uuid4().hex[:10]}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def files_in(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_a_backup_is_private_checksummed_and_restores_the_rows(server, tenant, scratch_database, tmp_path):
    directory = tmp_path / "backups"
    result = backup.backup_database(server, tenant.database, str(directory), label="pre-delete", now=WHEN)

    assert result.path == str(directory / f"pre-delete-{tenant.database}-20260304T050607Z.dump")
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    content = open(result.path, "rb").read()
    assert result.sha256 == hashlib.sha256(content).hexdigest() and result.size == len(content)
    assert result.entries > 0 and result.entries == backup.verify_backup(result.path)
    assert files_in(directory) == [f".pre-delete-{tenant.database}.lock", os.path.basename(result.path)]

    restore = subprocess.run([backup.find_tool("pg_restore"), "--exit-on-error", "--host", "127.0.0.1",
                              "--port", str(SHARED.port), "--username", "postgres", "--dbname", scratch_database,
                              result.path], env={**os.environ, "PGPASSWORD": server.password},
                             capture_output=True, text=True, check=False)
    assert restore.returncode == 0, restore.stderr
    with psycopg.connect(host="127.0.0.1", port=SHARED.port, user="postgres", password=server.password,
                         dbname=scratch_database) as conn:
        assert conn.execute("SELECT count(*), max(name) FROM partner").fetchone() == (500, "partner 99")
        # Owner information is kept in the dump: the restored table belongs to the tenant's role again.
        assert conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'partner'").fetchone() == (tenant.role,)


def test_the_password_goes_to_pg_dump_through_its_environment_only(server, tenant, tmp_path, monkeypatch):
    calls = []
    real_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        calls.append((command, kwargs.get("env")))
        return real_run(command, *args, **kwargs)  # pylint: disable=subprocess-run-check  # the caller sets check

    monkeypatch.setattr(backup.subprocess, "run", recording_run)
    backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN)
    dump_command, dump_env = next((command, env) for command, env in calls if command[0].endswith("pg_dump"))
    assert server.password not in " ".join(dump_command)
    assert "--format=custom" in dump_command and "--no-owner" not in dump_command
    assert dump_env["PGPASSWORD"] == server.password
    assert all(env is None or command[0].endswith("pg_dump") for command, env in calls)


def test_a_wrong_password_raises_and_leaves_no_file(server, tenant, tmp_path):
    wrong = dataclasses.replace(server, password="wrong-" + secrets.token_hex(8))
    with pytest.raises(backup.BackupError, match=f"pg_dump of database {tenant.database} on server postgres-shared-1 "
                                                 r"\(127.0.0.1:15433\) failed: .*password authentication failed.*"
                                                 "No backup file was written") as caught:
        backup.backup_database(wrong, tenant.database, str(tmp_path), label="daily", now=WHEN)
    assert wrong.password not in str(caught.value)
    assert [name for name in files_in(tmp_path) if not name.endswith(".lock")] == []


def test_a_missing_database_raises_and_leaves_no_file(server, tmp_path):
    with pytest.raises(backup.BackupError, match="database \"test_backup_missing\" does not exist"):
        backup.backup_database(server, "test_backup_missing", str(tmp_path), label="daily", now=WHEN)
    assert [name for name in files_in(tmp_path) if not name.endswith(".lock")] == []


def test_stale_temporaries_of_the_same_label_and_database_are_removed(server, tenant, tmp_path):
    stale = tmp_path / f".daily-{tenant.database}.partial-dead1234"
    stale.write_bytes(b"half a dump")
    other_label = tmp_path / f".weekly-{tenant.database}.partial-alive5678"
    other_label.write_bytes(b"someone else's")
    result = backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN)
    assert not stale.exists() and other_label.exists()
    assert os.path.exists(result.path)


def test_an_existing_backup_is_never_overwritten(server, tenant, tmp_path):
    first = backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN)
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN)
    assert open(first.path, "rb").read() and backup.verify_backup(first.path) == first.entries
    later = backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN + timedelta(seconds=1))
    assert later.path != first.path


def test_an_empty_database_gives_a_valid_backup_without_entries(server, admin, scratch_database, tmp_path):
    result = backup.backup_database(server, scratch_database, str(tmp_path), label="daily", now=WHEN)
    assert result.entries == 0 and result.size > 0


def test_a_truncated_or_foreign_file_does_not_verify(server, tenant, tmp_path):
    good = backup.backup_database(server, tenant.database, str(tmp_path), label="daily", now=WHEN)
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(open(good.path, "rb").read()[: good.size * 2 // 3])
    assert backup.verify_backup(str(truncated), read_data=False) > 0  # its table of contents still lists
    with pytest.raises(backup.BackupError, match="truncated.dump is unreadable.*Take a new backup"):
        backup.verify_backup(str(truncated))
    foreign = tmp_path / "foreign.dump"
    foreign.write_text("not a dump\n")
    with pytest.raises(backup.BackupError, match="foreign.dump is unreadable"):
        backup.verify_backup(str(foreign))
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")
    with pytest.raises(backup.BackupError):
        backup.verify_backup(str(empty))


@pytest.mark.parametrize("database, label", [("odoo; rm -rf /", "daily"), ("Odoo", "daily"),
                                             ("odoo", "../escape"), ("odoo", "a/b"), ("odoo", ""), ("odoo", "x.y")])
def test_bad_names_are_refused_before_anything(server, tmp_path, database, label):
    directory = tmp_path / "never-made"
    with pytest.raises(backup.BackupError, match="refusing"):
        backup.backup_database(server, database, str(directory), label=label)
    assert not directory.exists()


def test_file_names_use_utc():
    local = datetime(2026, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert backup.backup_file_name("daily", "odoo_acme", local) == "daily-odoo_acme-20260304T050607Z.dump"
    assert backup.backup_file_name("daily", "odoo_acme", WHEN.replace(tzinfo=None)) == "daily-odoo_acme-20260304T050607Z.dump"


def test_the_newest_client_tools_are_used():
    pg_dump = backup.find_tool("pg_dump")
    assert os.access(pg_dump, os.X_OK)
    assert os.path.dirname(pg_dump) == os.path.dirname(backup.find_tool("pg_restore"))
