"""The PostgreSQL core against the real local shared server postgres-shared-1: a tenant's role
and database are created as wanted, planned again as nothing, changed one statement at a time,
isolated from other tenants, and dropped (sessions first), idempotently."""

from __future__ import annotations

import dataclasses
import secrets
import uuid

import psycopg
import pytest
from psycopg import sql

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.scram import verify_password
from tests.cluster import postgres

SHARED = next(server for server in postgres.SERVERS if server.name == "postgres-shared-1")


@pytest.fixture
def make_tenant(admin):
    """Tenants with unique names; whatever they left on the server is dropped afterwards."""
    made = []

    def make(**changes) -> pg.TenantDatabase:
        name = f"test_pg_{uuid.uuid4().hex[:10]}"
        want = pg.TenantDatabase(role=name, database=name, password=secrets.token_urlsafe(18), connection_limit=7)
        want = dataclasses.replace(want, **changes)
        made.append(want)
        return want

    yield make
    for want in made:
        pg.drop_tenant_database(admin, want.role, want.database, execute=True)


def provision(admin, want) -> list[pg.Statement]:
    statements = pg.plan_tenant_database(admin, want)
    pg.apply_statements(admin, statements)
    return statements


def login(want, password=None, database=None):
    return psycopg.connect(host="127.0.0.1", port=SHARED.port, user=want.role, password=password or want.password,
                           dbname=database or want.database, connect_timeout=5)


def role_row(admin, role):
    return admin.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, "
                         "rolconnlimit, rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()


def test_a_new_tenant_gets_a_plain_role_owning_its_database(admin, make_tenant):
    want = make_tenant()
    statements = provision(admin, want)
    assert len(statements) == 4

    superuser, createdb, createrole, replication, bypassrls, login_allowed, limit, stored = role_row(admin, want.role)
    assert (superuser, createdb, createrole, replication, bypassrls, login_allowed, limit) == (
        False, False, False, False, False, True, 7)
    assert stored.startswith("SCRAM-SHA-256$") and verify_password(want.password, stored)
    owner, encoding, collate, ctype = admin.execute(
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
        "WHERE datname = %s", (want.database,)).fetchone()
    assert (owner, encoding, collate, ctype) == (want.role, "UTF8", "C", "C.UTF-8")
    public = admin.execute("SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s "
                           "AND a.grantee = 0", (want.database,)).fetchone()[0]
    assert public == 0
    with login(want) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (want.role, want.database)


def test_a_second_plan_is_empty(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    assert pg.plan_tenant_database(admin, want) == []


def test_a_changed_connection_limit_plans_exactly_one_alter_role(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    bigger = dataclasses.replace(want, connection_limit=12)
    statements = pg.plan_tenant_database(admin, bigger)
    assert [statement.display for statement in statements] == [f'ALTER ROLE "{want.role}" WITH CONNECTION LIMIT 12']
    pg.apply_statements(admin, statements)
    assert role_row(admin, want.role)[6] == 12
    assert pg.plan_tenant_database(admin, bigger) == []


def test_a_changed_password_plans_one_alter_role_password_and_then_logs_in(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    changed = dataclasses.replace(want, password=secrets.token_urlsafe(18))
    statements = pg.plan_tenant_database(admin, changed)
    assert [statement.display for statement in statements] == [f"ALTER ROLE \"{want.role}\" WITH PASSWORD '********'"]
    pg.apply_statements(admin, statements)
    with login(changed) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        login(want)
    assert pg.plan_tenant_database(admin, changed) == []


def test_a_non_ascii_password_hashed_here_logs_in_through_libpq(admin, make_tenant):
    want = make_tenant(password="P\u00e4ss w\u00f6rd\u00a0\u2168 \u0627\u0031")
    provision(admin, want)
    with login(want) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (want.role,)
    assert pg.plan_tenant_database(admin, want) == []


def test_a_password_the_server_hashed_is_recognised(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    admin.execute("SET password_encryption = 'scram-sha-256'")
    admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(want.role), sql.Literal(want.password)))
    assert pg.plan_tenant_database(admin, want) == []


def test_a_tenant_cannot_connect_to_another_tenants_database(admin, make_tenant):
    tenant_a, tenant_b = make_tenant(), make_tenant()
    provision(admin, tenant_a)
    provision(admin, tenant_b)
    # pg_hba.conf (the role's, as the local servers run it) refuses first; CONNECT revoked from
    # PUBLIC is the second fence.
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
        login(tenant_a, database=tenant_b.database)
    assert not admin.execute("SELECT has_database_privilege(%s, %s, 'CONNECT')",
                             (tenant_a.role, tenant_b.database)).fetchone()[0]
    with login(tenant_b) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (tenant_b.database,)


def test_the_connection_limit_is_enforced(admin, make_tenant):
    want = make_tenant(connection_limit=1)
    provision(admin, want)
    with login(want):
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            login(want)


def test_an_existing_database_of_another_owner_is_taken_over(admin, make_tenant):
    want = make_tenant()
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(want.database)))
    statements = [statement.display for statement in provision(admin, want)]
    assert statements[1:] == [f'ALTER DATABASE "{want.database}" OWNER TO "{want.role}"',
                              f'REVOKE CONNECT, TEMPORARY ON DATABASE "{want.database}" FROM PUBLIC',
                              f'GRANT CONNECT ON DATABASE "{want.database}" TO "{want.role}"']
    assert pg.plan_tenant_database(admin, want) == []


def test_extra_role_attributes_are_taken_away(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    admin.execute(sql.SQL("ALTER ROLE {} CREATEDB CREATEROLE NOLOGIN").format(sql.Identifier(want.role)))
    statements = pg.plan_tenant_database(admin, want)
    assert [statement.display for statement in statements] == [
        f'ALTER ROLE "{want.role}" WITH LOGIN NOCREATEDB NOCREATEROLE']
    pg.apply_statements(admin, statements)
    assert pg.plan_tenant_database(admin, want) == []


def test_drop_ends_sessions_removes_both_and_is_idempotent(admin, make_tenant):
    want = make_tenant()
    provision(admin, want)
    session = login(want)
    planned = pg.drop_tenant_database(admin, want.role, want.database, execute=False)
    assert [statement.display for statement in planned] == [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE (datname = '{want.database}' OR usename = '{want.role}') AND pid <> pg_backend_pid()",
        f'DROP DATABASE IF EXISTS "{want.database}" WITH (FORCE)',
        f'DROP ROLE IF EXISTS "{want.role}"',
    ]
    assert pg.database_exists(admin, want.database) and pg.role_exists(admin, want.role)  # check mode changed nothing

    assert pg.drop_tenant_database(admin, want.role, want.database, execute=True) == planned
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    session.close()
    assert not pg.database_exists(admin, want.database)
    assert not pg.role_exists(admin, want.role)
    assert pg.drop_tenant_database(admin, want.role, want.database, execute=True) == []


def test_drop_refuses_a_database_owned_by_someone_else(admin, make_tenant):
    tenant_a, tenant_b = make_tenant(), make_tenant()
    provision(admin, tenant_a)
    provision(admin, tenant_b)
    with pytest.raises(pg.PgError, match=f"refusing to drop database {tenant_b.database}.*owned by {tenant_b.role}"):
        pg.drop_tenant_database(admin, tenant_a.role, tenant_b.database, execute=True)
    assert pg.database_exists(admin, tenant_b.database) and pg.role_exists(admin, tenant_a.role)


def test_drop_refuses_a_superuser_and_the_admin(admin, make_tenant):
    want = make_tenant()
    admin.execute(sql.SQL("CREATE ROLE {} SUPERUSER").format(sql.Identifier(want.role)))
    with pytest.raises(pg.PgError, match="it is a superuser"):
        pg.drop_tenant_database(admin, want.role, want.database, execute=True)
    admin.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER").format(sql.Identifier(want.role)))
    with pytest.raises(pg.PgError, match="reserved"):
        pg.drop_tenant_database(admin, "postgres", want.database, execute=True)


def test_the_admin_role_is_never_managed_as_a_tenant(admin, server):
    admin_name, password = f"test_pg_admin_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    admin.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN PASSWORD {}").format(sql.Identifier(admin_name),
                                                                               sql.Literal(password)))
    try:
        with pg.connect(dataclasses.replace(server, user=admin_name, password=password)) as other_admin:
            want = pg.TenantDatabase(role=admin_name, database=admin_name, password="x", connection_limit=1)
            with pytest.raises(pg.PgError, match=f"refusing to manage role {admin_name}.*admin user"):
                pg.plan_tenant_database(other_admin, want)
            with pytest.raises(pg.PgError, match=f"refusing to manage role {admin_name}.*admin user"):
                pg.drop_tenant_database(other_admin, admin_name, admin_name, execute=True)
        assert role_row(admin, admin_name)[0] is True
    finally:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(admin_name)))


def test_an_admin_that_is_not_a_superuser_is_told_so(admin, server, make_tenant):
    name, password = f"test_pg_weak_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(18)
    admin.execute(sql.SQL("CREATE ROLE {} CREATEROLE CREATEDB LOGIN PASSWORD {}").format(sql.Identifier(name),
                                                                                         sql.Literal(password)))
    try:
        with pg.connect(dataclasses.replace(server, user=name, password=password)) as weak_admin:
            with pytest.raises(pg.PgError, match="permission denied.*admin user must be a superuser"):
                pg.plan_tenant_database(weak_admin, make_tenant())
    finally:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_sizes_and_existence(admin, make_tenant):
    want = make_tenant()
    assert pg.database_size(admin, want.database) is None
    assert not pg.database_exists(admin, want.database) and not pg.role_exists(admin, want.role)
    provision(admin, want)
    assert pg.database_size(admin, want.database) > 0
    assert pg.database_exists(admin, want.database) and pg.role_exists(admin, want.role)


def test_a_failing_statement_names_it_and_the_server_without_the_password(admin, make_tenant):
    want = make_tenant()
    statements = pg.plan_tenant_database(admin, want)
    pg.apply_statements(admin, statements[:1])
    with pytest.raises(pg.PgError) as caught:
        pg.apply_statements(admin, statements[:1])  # the role exists now
    message = str(caught.value)
    assert "CREATE ROLE" in message and "already exists" in message and "postgres-shared-1" in message
    assert want.password not in message and "SCRAM-SHA-256$" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unreachable_server_is_named_without_the_password(server):
    wrong = dataclasses.replace(server, password="not-the-password-" + secrets.token_hex(8))
    with pytest.raises(pg.PgError, match="cannot reach PostgreSQL server postgres-shared-1 at 127.0.0.1:15433: "
                                         ".*password authentication failed.*Check") as caught:
        pg.connect(wrong)
    assert wrong.password not in str(caught.value)
    closed = dataclasses.replace(server, port=1, connect_timeout=2)
    with pytest.raises(pg.PgError, match="cannot reach PostgreSQL server postgres-shared-1 at 127.0.0.1:1: "):
        pg.connect(closed)


def test_no_display_ever_holds_a_password(admin, make_tenant):
    want = make_tenant()
    shown = [statement.display for statement in provision(admin, want)]
    changed = dataclasses.replace(want, password=secrets.token_urlsafe(18), connection_limit=3)
    shown += [statement.display for statement in pg.plan_tenant_database(admin, changed)]
    shown += [statement.display for statement in pg.drop_tenant_database(admin, want.role, want.database, execute=False)]
    assert len(shown) == 4 + 2 + 3
    for text in shown:
        assert want.password not in text and changed.password not in text and "SCRAM-SHA-256$" not in text
