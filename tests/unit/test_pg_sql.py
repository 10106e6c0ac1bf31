"""Unit tests of the PostgreSQL core without a server: names refused, statements composed, and
planning from catalog facts (a pure function), with passwords never shown."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SaasError
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.scram import verify_password

from .libpq import UNCONNECTED, libpq_verifier

PASSWORD = "s3cret-'; DROP ROLE postgres; --"
WANT = pg.TenantDatabase(role="odoo_acme", database="odoo_acme", password=PASSWORD, connection_limit=20)
ALL_GOOD_ACL = frozenset({("odoo_acme", "CONNECT"), ("odoo_acme", "CREATE"), ("odoo_acme", "TEMPORARY")})


def role_facts(**changes):
    facts = pg.RoleFacts(rolcanlogin=True, rolsuper=False, rolcreatedb=False, rolcreaterole=False,
                         rolreplication=False, rolbypassrls=False, connection_limit=20,
                         password=libpq_verifier(PASSWORD))
    return dataclasses.replace(facts, **changes)


def database_facts(**changes):
    return dataclasses.replace(pg.DatabaseFacts(owner="odoo_acme", encoding="UTF8", acl=ALL_GOOD_ACL), **changes)


def displays(statements):
    return [statement.display for statement in statements]


def assert_no_password(statements):
    for statement in statements:
        assert PASSWORD not in statement.display
        assert PASSWORD not in repr(statement)
        assert PASSWORD not in str(statement)
        assert PASSWORD not in statement.query(UNCONNECTED).as_string(None)


# --- names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["odoo_acme", "_x", "a", "a" * 63, "tenant_42"])
def test_plain_identifiers_are_accepted(name):
    assert pg.check_identifier(name, "role") == name


@pytest.mark.parametrize("name", ["", "1abc", "Acme", "a-b", "a b", "a;b", 'a"b', "a'b", "a" * 64, "é", None, 42, "a\nb"])
def test_other_identifiers_are_refused(name):
    with pytest.raises(pg.PgError, match="refusing database name .*Nothing was changed"):
        pg.check_identifier(name, "database")


@given(st.text(min_size=1, max_size=70).filter(lambda text: any(char in text for char in "'\";\\ -$()\x00")))
def test_names_with_quotes_or_punctuation_are_always_refused(name):
    with pytest.raises(pg.PgError):
        pg.check_identifier(name, "role")


@given(st.from_regex(r"\A[a-z_][a-z0-9_]{0,62}\Z"))
def test_names_of_the_identifier_grammar_are_accepted(name):
    assert pg.check_identifier(name, "role") == name


@pytest.mark.parametrize("role", ["postgres", "public", "pg_monitor", "pg_x", "current_user"])
def test_reserved_role_names_are_refused(role):
    with pytest.raises(pg.PgError, match="reserved"):
        pg.check_role_name(role)


@pytest.mark.parametrize("database", ["postgres", "template0", "template1"])
def test_system_databases_are_refused(database):
    with pytest.raises(pg.PgError, match="system database"):
        pg.check_database_name(database)


def test_a_bad_name_is_refused_before_planning():
    with pytest.raises(pg.PgError, match="refusing role name"):
        pg.plan_statements(dataclasses.replace(WANT, role='x"; DROP DATABASE y; --'), None, None)


@pytest.mark.parametrize("limit", [-2, 2 ** 31, True, 1.5, "10", None])
def test_bad_connection_limits_are_refused(limit):
    with pytest.raises(pg.PgError, match="connection limit"):
        pg.plan_statements(dataclasses.replace(WANT, connection_limit=limit), None, None)


@pytest.mark.parametrize("password", ["", "a\x00b", None])
def test_empty_passwords_are_refused_without_showing_them(password):
    with pytest.raises(pg.PgError, match="refusing the password for role odoo_acme") as caught:
        pg.plan_statements(dataclasses.replace(WANT, password=password), None, None)
    assert "a\x00b" not in str(caught.value)


def test_errors_belong_to_the_cores_family():
    assert issubclass(pg.PgError, SaasError)


def test_reprs_never_show_passwords():
    server = pg.ServerConnection(name="postgres-shared-1", host="127.0.0.1", port=15433, user="postgres", password=PASSWORD)
    assert PASSWORD not in repr(server)
    assert PASSWORD not in repr(WANT)
    assert PASSWORD not in repr(role_facts())


# --- planning from catalog facts ------------------------------------------------------------------

def test_a_new_tenant_gets_its_role_database_and_grants():
    statements = pg.plan_statements(WANT, None, None)
    assert displays(statements) == [
        'CREATE ROLE "odoo_acme" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
        "CONNECTION LIMIT 20 PASSWORD '********'",
        "CREATE DATABASE \"odoo_acme\" WITH OWNER \"odoo_acme\" ENCODING 'UTF8' TEMPLATE template0 "
        "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'",
        'REVOKE CONNECT, TEMPORARY ON DATABASE "odoo_acme" FROM PUBLIC',
        'GRANT CONNECT ON DATABASE "odoo_acme" TO "odoo_acme"',
    ]
    assert_no_password(statements)


def test_the_password_is_sent_as_libpqs_scram_verifier_of_it():
    query = pg.plan_statements(WANT, None, None)[0].query(UNCONNECTED).as_string(None)
    verifier = query.split("PASSWORD '", 1)[1].rstrip("'")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert verify_password(PASSWORD, verifier)


def test_everything_matching_plans_nothing():
    assert pg.plan_statements(WANT, role_facts(), database_facts()) == []


def test_a_changed_connection_limit_plans_one_alter_role():
    assert displays(pg.plan_statements(WANT, role_facts(connection_limit=5), database_facts())) == [
        'ALTER ROLE "odoo_acme" WITH CONNECTION LIMIT 20'
    ]


def test_unlimited_connections_are_allowed():
    want = dataclasses.replace(WANT, connection_limit=-1)
    assert displays(pg.plan_statements(want, role_facts(), database_facts())) == [
        'ALTER ROLE "odoo_acme" WITH CONNECTION LIMIT  -1'
    ]


def test_only_the_differing_role_attributes_are_altered():
    facts = role_facts(rolsuper=True, rolcreatedb=True, rolcanlogin=False)
    assert displays(pg.plan_statements(WANT, facts, database_facts())) == [
        'ALTER ROLE "odoo_acme" WITH LOGIN NOSUPERUSER NOCREATEDB'
    ]


def test_attributes_and_limit_differing_make_one_statement():
    facts = role_facts(rolbypassrls=True, rolreplication=True, rolcreaterole=True, connection_limit=-1)
    assert displays(pg.plan_statements(WANT, facts, database_facts())) == [
        'ALTER ROLE "odoo_acme" WITH NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20'
    ]


@pytest.mark.parametrize("stored", [libpq_verifier("another password"), None,
                                    "md5" + "0" * 32, "SCRAM-SHA-256$garbage"])
def test_a_password_that_does_not_verify_plans_one_alter_role_password(stored):
    statements = pg.plan_statements(WANT, role_facts(password=stored), database_facts())
    assert displays(statements) == ["ALTER ROLE \"odoo_acme\" WITH PASSWORD '********'"]
    assert_no_password(statements)


def test_a_database_owned_by_another_role_changes_owner_and_grants_connect():
    acl = frozenset({("PUBLIC", "CONNECT"), ("PUBLIC", "TEMPORARY"), ("postgres", "CONNECT")})
    assert displays(pg.plan_statements(WANT, role_facts(), database_facts(owner="postgres", acl=acl))) == [
        'ALTER DATABASE "odoo_acme" OWNER TO "odoo_acme"',
        'REVOKE CONNECT, TEMPORARY ON DATABASE "odoo_acme" FROM PUBLIC',
        'GRANT CONNECT ON DATABASE "odoo_acme" TO "odoo_acme"',
    ]


@pytest.mark.parametrize("public", [("PUBLIC", "CONNECT"), ("PUBLIC", "TEMPORARY")])
def test_public_keeping_any_database_privilege_is_revoked(public):
    facts = database_facts(acl=ALL_GOOD_ACL | {public})
    assert displays(pg.plan_statements(WANT, role_facts(), facts)) == [
        'REVOKE CONNECT, TEMPORARY ON DATABASE "odoo_acme" FROM PUBLIC'
    ]


def test_a_role_without_connect_is_granted_it():
    facts = database_facts(acl=frozenset({("odoo_acme", "CREATE")}))
    assert displays(pg.plan_statements(WANT, role_facts(), facts)) == ['GRANT CONNECT ON DATABASE "odoo_acme" TO "odoo_acme"']


def test_a_missing_role_with_an_existing_database_is_created_first():
    statements = displays(pg.plan_statements(WANT, None, database_facts(owner="postgres")))
    assert statements[0].startswith('CREATE ROLE "odoo_acme"')
    assert statements[1:] == ['ALTER DATABASE "odoo_acme" OWNER TO "odoo_acme"',
                              'GRANT CONNECT ON DATABASE "odoo_acme" TO "odoo_acme"']


def test_a_database_in_another_encoding_is_refused():
    with pytest.raises(pg.PgError, match="encoding LATIN1, but Odoo needs UTF8.*Nothing was changed"):
        pg.plan_statements(WANT, role_facts(), database_facts(encoding="LATIN1"))


def test_the_locale_can_be_chosen():
    want = dataclasses.replace(WANT, lc_collate="en_US.UTF-8", lc_ctype="en_US.UTF-8")
    assert "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'" in pg.plan_statements(want, None, None)[1].display


# --- the other statements -------------------------------------------------------------------------

def test_drop_statements():
    assert pg.terminate_sessions("odoo_acme", "odoo_acme").display == (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE (datname = 'odoo_acme' OR usename = 'odoo_acme') AND pid <> pg_backend_pid()")
    assert pg.drop_database("odoo_acme").display == 'DROP DATABASE IF EXISTS "odoo_acme" WITH (FORCE)'
    assert pg.drop_role("odoo_acme").display == 'DROP ROLE IF EXISTS "odoo_acme"'


def test_statements_compare_by_their_text():
    assert pg.drop_role("a") == pg.drop_role("a")
    assert pg.drop_role("a") != pg.drop_role("b")


def test_without_psycopg_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(pg, "psycopg", None)
    with pytest.raises(pg.PgError, match=r"psycopg \(version 3\) is required"):
        pg.drop_role("a")
    with pytest.raises(pg.PgError, match="pip install"):
        pg.connect(pg.ServerConnection(name="s", host="h", port=1, user="u", password=PASSWORD))
