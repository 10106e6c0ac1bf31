"""The local PostgreSQL servers: one cluster each for the ledger and two shared servers,
SCRAM password logins on loopback only."""

from __future__ import annotations

import psycopg
import pytest

from tests.cluster import postgres


def _connect(server, password=None):
    return psycopg.connect(host="127.0.0.1", port=server.port, user=postgres.SUPERUSER,
                           password=password or server.password(), dbname="postgres", connect_timeout=5)


@pytest.mark.parametrize("server", postgres.SERVERS, ids=lambda s: s.name)
def test_server_accepts_its_superuser_with_scram(server):
    with _connect(server) as conn:
        assert conn.execute("SHOW password_encryption").fetchone()[0] == "scram-sha-256"
        assert conn.execute("SHOW port").fetchone()[0] == str(server.port)
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = current_user").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize("server", postgres.SERVERS, ids=lambda s: s.name)
def test_server_refuses_a_wrong_password(server):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(server, password="not-the-password")


def test_servers_are_separate_clusters():
    identities = set()
    for server in postgres.SERVERS:
        with _connect(server) as conn:
            identities.add(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
    assert len(identities) == len(postgres.SERVERS)


def test_servers_listen_on_loopback_only():
    for server in postgres.SERVERS:
        with _connect(server) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
