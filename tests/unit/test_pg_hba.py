"""The shared servers' and the ledger's pg_hba.conf, as the roles render them, read the way
PostgreSQL reads it: the first line whose type, database, user and address match decides."""

from __future__ import annotations

import ipaddress

import pytest

from tests.cluster import server_config


def _rules(text):
    rules = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            rules.append(fields)
    return rules


def decide(text, *, tls, database, user, address):
    """The METHOD of the first matching line (None: no entry, refused), for a TCP connection."""
    for fields in _rules(text):
        kind = fields[0]
        if kind == "local" or (kind == "hostssl" and not tls) or (kind == "hostnossl" and tls):
            continue
        databases, users, cidr, method = fields[1].split(","), fields[2].split(","), fields[3], fields[4]
        database_matches = "all" in databases or database in databases or ("sameuser" in databases and database == user)
        user_matches = "all" in users or user in users
        if database_matches and user_matches and ipaddress.ip_address(address) in ipaddress.ip_network(cidr):
            return method
    return None


def _shared(tls):
    return server_config.hba(server_config.SHARED, {"postgres_shared_tls": tls})


@pytest.mark.parametrize("tls", [True, False])
def test_a_tenant_role_reaches_its_database_and_postgres_only(tls):
    hba = _shared(tls)
    for database in ("odoo_acme", "postgres"):
        assert decide(hba, tls=False, database=database, user="odoo_acme", address="10.1.4.7") == "scram-sha-256"
    for database in ("odoo_other", "template1", "saas_ledger"):
        assert decide(hba, tls=False, database=database, user="odoo_acme", address="10.1.4.7") is None


def test_with_tls_the_superuser_from_outside_the_pod_must_use_it():
    hba = _shared(True)
    assert decide(hba, tls=True, database="postgres", user="postgres", address="192.0.2.8") == "scram-sha-256"
    # Without the reject lines it would match the tenants' `sameuser,postgres all` line.
    assert decide(hba, tls=False, database="postgres", user="postgres", address="192.0.2.8") == "reject"
    assert decide(hba, tls=False, database="postgres", user="postgres", address="2001:db8::8") == "reject"
    assert decide(hba, tls=False, database="postgres", user="postgres", address="127.0.0.1") == "scram-sha-256"


def test_without_tls_the_superuser_logs_in_with_its_password():
    assert decide(_shared(False), tls=False, database="odoo_acme", user="postgres", address="192.0.2.8") == "scram-sha-256"


def test_the_ledger_admits_its_superuser_only():
    hba = server_config.hba(server_config.LEDGER, {"saas_system_ledger_tls": True})
    assert decide(hba, tls=True, database="saas_ledger", user="postgres", address="192.0.2.8") == "scram-sha-256"
    assert decide(hba, tls=False, database="saas_ledger", user="postgres", address="192.0.2.8") is None
    assert decide(hba, tls=True, database="saas_ledger", user="odoo_acme", address="10.1.4.7") is None
