# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a password matches a SCRAM-SHA-256 verifier as PostgreSQL stores it in
``pg_authid.rolpassword``: the comparison libpq lacks, so a role's password is changed only when
it differs. libpq makes the verifiers (pg.Statement: PQencryptPasswordConn); this only reads them.

A verifier reads ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64 parts).

Passwords are normalised with SASLprep exactly as PostgreSQL's ``pg_saslprep`` does (server
and libpq alike): pure ASCII is used unchanged; otherwise mapped, NFKC-normalised and checked,
and a password SASLprep rejects is used as its raw UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import stringprep
import unicodedata

PREFIX = "SCRAM-SHA-256"


def saslprep(password: str) -> bytes:
    """The bytes PostgreSQL hashes for this password."""
    raw = password.encode("utf-8")
    if password.isascii():
        return raw
    prepared = _rfc4013(password)
    return raw if prepared is None else prepared.encode("utf-8")


def _rfc4013(password: str) -> str | None:
    """SASLprep (RFC 4013) of a non-ASCII password, None where PostgreSQL gives up."""
    mapped = "".join(_map(char) for char in password)
    if not mapped:
        return None
    normalised = unicodedata.normalize("NFKC", mapped)
    if any(_prohibited(char) for char in normalised):
        return None
    if any(stringprep.in_table_d1(char) for char in normalised):
        if any(stringprep.in_table_d2(char) for char in normalised):
            return None
        if not (stringprep.in_table_d1(normalised[0]) and stringprep.in_table_d1(normalised[-1])):
            return None
    return normalised


def _map(char: str) -> str:
    # PostgreSQL looks a character up in the space table before the mapped-to-nothing one
    # (U+200B is in both): a zero width space becomes a space.
    if stringprep.in_table_c12(char):
        return " "
    return "" if stringprep.in_table_b1(char) else char


def _prohibited(char: str) -> bool:
    return (stringprep.in_table_c12(char) or stringprep.in_table_c21_c22(char) or stringprep.in_table_c3(char)
            or stringprep.in_table_c4(char) or stringprep.in_table_c5(char) or stringprep.in_table_c6(char)
            or stringprep.in_table_c7(char) or stringprep.in_table_c8(char) or stringprep.in_table_c9(char)
            or stringprep.in_table_a1(char))


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return stored_key, server_key


def parse_verifier(verifier: str) -> tuple[int, bytes, bytes, bytes] | None:
    """(iterations, salt, StoredKey, ServerKey) of a SCRAM-SHA-256 verifier, None if it is not one."""
    try:
        prefix, parameters, keys = verifier.split("$")
        iterations, salt = parameters.split(":")
        stored_key, server_key = keys.split(":")
        if prefix != PREFIX or not iterations.isdigit() or int(iterations) < 1:
            return None
        return (int(iterations), base64.b64decode(salt, validate=True),
                base64.b64decode(stored_key, validate=True), base64.b64decode(server_key, validate=True))
    except (AttributeError, ValueError, binascii.Error):
        return None


def is_verifier(value: object) -> bool:
    return isinstance(value, str) and parse_verifier(value) is not None


def verify_password(password: str, verifier: str | None) -> bool:
    """Whether the password matches a stored SCRAM-SHA-256 verifier.

    False for anything else (no password, an MD5 hash, a malformed value): the caller then
    sets the password again, which also upgrades an MD5 hash to SCRAM.
    """
    parsed = parse_verifier(verifier) if verifier else None
    if parsed is None:
        return False
    iterations, salt, stored_key, server_key = parsed
    computed_stored_key, computed_server_key = _keys(password, salt, iterations)
    return hmac.compare_digest(computed_stored_key, stored_key) and hmac.compare_digest(computed_server_key, server_key)
