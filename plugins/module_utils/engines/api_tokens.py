# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SaaS controller's API tokens in the ledger: scoped, stored as a SHA-256 of their secret
(a token is 256 random bits, so a plain hash is enough: nothing to guess), revocable.

A token reads `osk_<id>_<secret>`: the id finds the row, the secret is compared in constant
time. The secret is shown once, when the token is made, and never stored or logged."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ..errors import SpecError, shown

SCOPES = ("admin", "reseller", "read")
TOKEN_PATTERN = re.compile(r"^osk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,62}$")


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scope: str

    @property
    def writes(self):
        return self.scope in ("admin", "reseller")


def _sha256(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def create(conn, name, scope):
    """A new token; returns (Token, the token's full text, shown this once)."""
    if scope not in SCOPES:
        raise SpecError("scope", f"must be one of {', '.join(SCOPES)}, got {shown(scope)}")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise SpecError("name", f"must be 1-63 letters, digits, spaces or '._@-', got {shown(name)}")
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    conn.execute("INSERT INTO api_tokens (id, name, scope, secret_sha256) VALUES (%s, %s, %s, %s)",
                 (token_id, name, scope, _sha256(secret)))
    return Token(token_id, name, scope), f"osk_{token_id}_{secret}"


def authenticate(conn, text):
    """The live token `text` is, or None (malformed, unknown, wrong secret or revoked)."""
    match = TOKEN_PATTERN.match(text or "")
    if not match:
        return None
    token_id, secret = match.groups()
    row = conn.execute("SELECT name, scope, secret_sha256 FROM api_tokens WHERE id = %s AND revoked_at IS NULL",
                       (token_id,)).fetchone()
    if row is None or not hmac.compare_digest(row[2], _sha256(secret)):
        return None
    return Token(token_id, row[0], row[1])


def revoke(conn, token_id):
    """Revoke a token; returns True when it was live."""
    return conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                        (token_id,)).rowcount == 1


def list_tokens(conn):
    rows = conn.execute("SELECT id, name, scope, created_at, revoked_at FROM api_tokens ORDER BY created_at").fetchall()
    return [{"id": row[0], "name": row[1], "scope": row[2], "created_at": row[3].isoformat(),
             "revoked_at": row[4] and row[4].isoformat()} for row in rows]


def owner_of(conn, tenant):
    """The id of the reseller token that created `tenant`, or None."""
    row = conn.execute("SELECT token FROM tenant_owners WHERE tenant = %s", (tenant,)).fetchone()
    return row and row[0]


def owned_by(conn, token_id):
    return {row[0] for row in conn.execute("SELECT tenant FROM tenant_owners WHERE token = %s", (token_id,))}


def claim_tenant(conn, tenant, token_id):
    """Record that `token_id` (a reseller) created `tenant`; a tenant already claimed keeps its owner."""
    conn.execute("INSERT INTO tenant_owners (tenant, token) VALUES (%s, %s) ON CONFLICT (tenant) DO NOTHING",
                 (tenant, token_id))


def release_tenant(conn, tenant):
    """Forget which reseller created `tenant` (an admin made a new tenant of that name)."""
    conn.execute("DELETE FROM tenant_owners WHERE tenant = %s", (tenant,))
