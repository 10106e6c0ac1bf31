"""libpq's own SCRAM-SHA-256 verifiers (PQencryptPasswordConn through psycopg), made without a
server: libpq needs a connection object for the call, not a connected one."""

from __future__ import annotations

from types import SimpleNamespace

from psycopg import pq

# A connection that never reaches a server: the socket directory does not exist.
UNCONNECTED = SimpleNamespace(pgconn=pq.PGconn.connect_start(b"host=/nonexistent-odoo-saas-test port=1"))


def libpq_verifier(password, role="odoo_acme"):
    return UNCONNECTED.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
