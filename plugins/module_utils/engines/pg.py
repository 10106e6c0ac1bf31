# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One tenant's role and database on a shared PostgreSQL server, kept as wanted, idempotently.

The desired state: a LOGIN role with no other attribute, a connection limit and a SCRAM-SHA-256
password; a UTF8 database owned by that role; CONNECT and TEMPORARY revoked from PUBLIC, so no
other tenant's role can connect, and CONNECT granted to the tenant's role.

Planning reads the catalog and returns the statements still needed (none when everything
matches); ``plan_statements`` is the pure part, from catalog facts to statements. Every
statement is composed with ``psycopg.sql`` and carries a ``display`` text for results, with
the password replaced by ``'********'``. Passwords are hashed here (SCRAM-SHA-256) and only the
verifier is sent, so a clear-text password never reaches the server, its logs or
``pg_stat_activity``.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..crashpoints import reached
from ..errors import SaasError
from ..redact import REDACTED, redact_text
from .scram import verify_password

try:
    import psycopg
    from psycopg import sql
except ImportError:  # reported when used, by _require_psycopg
    psycopg = None
    sql = None

MASK = f"'{REDACTED}'"
SCRAM_ALGORITHM = b"scram-sha-256"
PUBLIC = "PUBLIC"  # the grantee name this module uses for PUBLIC (valid role names are lower case)
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}\Z")
RESERVED_ROLES = frozenset({"postgres", "public", "none", "current_role", "current_user", "session_user"})
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})
MAX_CONNECTION_LIMIT = 2 ** 31 - 1
APPLICATION_NAME = "odoo_saas.kit"

# The attributes a tenant's role must have, as (pg_authid column, keyword when on, keyword when off, wanted).
ROLE_ATTRIBUTES = (
    ("rolcanlogin", "LOGIN", "NOLOGIN", True),
    ("rolsuper", "SUPERUSER", "NOSUPERUSER", False),
    ("rolcreatedb", "CREATEDB", "NOCREATEDB", False),
    ("rolcreaterole", "CREATEROLE", "NOCREATEROLE", False),
    ("rolreplication", "REPLICATION", "NOREPLICATION", False),
    ("rolbypassrls", "BYPASSRLS", "NOBYPASSRLS", False),
)

_SERVER_NAMES: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


class PgError(SaasError):
    """A PostgreSQL step failed or was refused. Says what and what to do next; never a password."""


@dataclass(frozen=True)
class ServerConnection:
    """How to reach a PostgreSQL server as its admin (a superuser)."""

    name: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str = "postgres"
    sslmode: str = "prefer"
    connect_timeout: int = 10


@dataclass(frozen=True)
class TenantDatabase:
    """What one tenant must have on a server."""

    role: str
    database: str
    password: str = field(repr=False)
    connection_limit: int
    # C collation as Odoo itself uses for new databases: byte order, immune to glibc collation
    # changes that corrupt indexes; C.UTF-8 character classes so upper()/ilike know non-ASCII.
    lc_collate: str = "C"
    lc_ctype: str = "C.UTF-8"


@dataclass(frozen=True)
class Statement:
    """A statement and its text for results, with any password masked. A statement that sets a
    password holds the password itself and sends the SCRAM-SHA-256 verifier libpq makes of it
    (PQencryptPasswordConn, with the server's own iteration count) when it runs: the clear
    password never reaches the server, its log or pg_stat_statements."""

    compose: Any = field(repr=False, compare=False)  # verifier or None -> the composed query
    display: str
    step: str = field(default="", compare=False)  # what it does, e.g. create-role (crash points)
    password: str | None = field(default=None, repr=False, compare=False)
    role: str | None = field(default=None, compare=False)

    def query(self, conn=None):
        """The composed query to run on conn (needed only by a statement that sets a password)."""
        if self.password is None:
            return self.compose(None)
        verifier = conn.pgconn.encrypt_password(self.password.encode("utf-8"), self.role.encode("utf-8"),
                                                SCRAM_ALGORITHM)
        return self.compose(verifier.decode("ascii"))

    def __str__(self):
        return self.display


@dataclass(frozen=True)
class RoleFacts:
    """A role as the catalog (pg_authid) has it."""

    rolcanlogin: bool
    rolsuper: bool
    rolcreatedb: bool
    rolcreaterole: bool
    rolreplication: bool
    rolbypassrls: bool
    connection_limit: int
    password: str | None = field(default=None, repr=False)  # the stored verifier


@dataclass(frozen=True)
class DatabaseFacts:
    """A database as the catalog (pg_database) has it; acl holds (grantee, privilege) pairs."""

    owner: str
    encoding: str
    acl: frozenset = frozenset()

    def grants(self, grantee: str, privilege: str) -> bool:
        return (grantee, privilege) in self.acl


# --- validation ---------------------------------------------------------------------------------

def check_identifier(name: object, what: str) -> str:
    """The name if it is a plain lower-case PostgreSQL identifier, else PgError."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise PgError(f"refusing {what} name {shown}: use 1 to 63 characters among a-z, 0-9 and _, "
                      "not starting with a digit. Nothing was changed.")
    return name


def check_role_name(role: object) -> str:
    check_identifier(role, "role")
    if role in RESERVED_ROLES or role.startswith("pg_"):
        raise PgError(f"refusing role name {role!r}: it is reserved by PostgreSQL. Nothing was changed.")
    return role


def check_database_name(database: object) -> str:
    check_identifier(database, "database")
    if database in RESERVED_DATABASES:
        raise PgError(f"refusing database name {database!r}: it is a system database. Nothing was changed.")
    return database


def check_tenant(want: TenantDatabase) -> None:
    check_role_name(want.role)
    check_database_name(want.database)
    limit = want.connection_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not -1 <= limit <= MAX_CONNECTION_LIMIT:
        raise PgError(f"refusing connection limit {limit!r} for role {want.role}: use a whole number, "
                      "-1 for no limit. Nothing was changed.")
    if not isinstance(want.password, str) or not want.password or "\x00" in want.password:
        raise PgError(f"refusing the password for role {want.role}: it must be a non-empty string without "
                      "NUL characters. Nothing was changed.")


# --- statements -----------------------------------------------------------------------------------

def _require_psycopg() -> None:
    if psycopg is None:
        raise PgError("the Python package psycopg (version 3) is required on the host that runs this: "
                      "install it with `pip install 'psycopg[binary]>=3.2'`.")


def _statement(step: str, template: str, password: str | None = None, password_role: str | None = None,
               **parts) -> Statement:
    """Compose template with parts; {password}, when present, is password_role's password: masked
    in the display, sent as libpq's verifier of it when the statement runs."""
    _require_psycopg()
    if password is None:
        query = sql.SQL(template).format(**parts)
        return Statement(lambda _verifier: query, query.as_string(None), step)
    display = sql.SQL(template).format(password=sql.SQL(MASK), **parts).as_string(None)
    return Statement(lambda verifier: sql.SQL(template).format(password=sql.Literal(verifier), **parts), display, step,
                     password=password, role=password_role)


def _role_attributes(facts: RoleFacts | None) -> list[str]:
    """The attribute keywords needed: all of them for a new role, the differing ones otherwise."""
    return [on if wanted else off for column, on, off, wanted in ROLE_ATTRIBUTES
            if facts is None or getattr(facts, column) != wanted]


def create_role(want: TenantDatabase) -> Statement:
    return _statement("create-role", "CREATE ROLE {role} WITH " + " ".join(_role_attributes(None))
                      + " CONNECTION LIMIT {limit} PASSWORD {password}", password=want.password,
                      password_role=want.role, role=sql.Identifier(want.role), limit=sql.Literal(want.connection_limit))


def alter_role_attributes(want: TenantDatabase, facts: RoleFacts) -> Statement | None:
    keywords = _role_attributes(facts)
    limit_differs = facts.connection_limit != want.connection_limit
    if not keywords and not limit_differs:
        return None
    template = "ALTER ROLE {role} WITH " + " ".join(keywords)
    if limit_differs:
        template += (" " if keywords else "") + "CONNECTION LIMIT {limit}"
    return _statement("alter-role", template, role=sql.Identifier(want.role), limit=sql.Literal(want.connection_limit))


def alter_role_password(want: TenantDatabase) -> Statement:
    return _statement("alter-role-password", "ALTER ROLE {role} WITH PASSWORD {password}", password=want.password,
                      password_role=want.role, role=sql.Identifier(want.role))


def create_database(want: TenantDatabase) -> Statement:
    return _statement("create-database", "CREATE DATABASE {database} WITH OWNER {role} ENCODING 'UTF8' TEMPLATE template0 "
                      "LC_COLLATE {collate} LC_CTYPE {ctype}",
                      database=sql.Identifier(want.database), role=sql.Identifier(want.role),
                      collate=sql.Literal(want.lc_collate), ctype=sql.Literal(want.lc_ctype))


def alter_database_owner(want: TenantDatabase) -> Statement:
    return _statement("alter-database-owner", "ALTER DATABASE {database} OWNER TO {role}",
                      database=sql.Identifier(want.database), role=sql.Identifier(want.role))


def revoke_public(database: str) -> Statement:
    return _statement("revoke-public", "REVOKE CONNECT, TEMPORARY ON DATABASE {database} FROM PUBLIC", database=sql.Identifier(database))


def grant_connect(want: TenantDatabase) -> Statement:
    return _statement("grant-connect", "GRANT CONNECT ON DATABASE {database} TO {role}",
                      database=sql.Identifier(want.database), role=sql.Identifier(want.role))


def terminate_sessions(role: str, database: str) -> Statement:
    return _statement("terminate-sessions", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE (datname = {database} OR usename = {role}) AND pid <> pg_backend_pid()",
                      database=sql.Literal(database), role=sql.Literal(role))


def drop_database(database: str) -> Statement:
    # FORCE (PostgreSQL 13+) also ends sessions that connected after the termination above.
    return _statement("drop-database", "DROP DATABASE IF EXISTS {database} WITH (FORCE)", database=sql.Identifier(database))


def drop_role(role: str) -> Statement:
    return _statement("drop-role", "DROP ROLE IF EXISTS {role}", role=sql.Identifier(role))


# --- planning (pure) ------------------------------------------------------------------------------

def plan_statements(want: TenantDatabase, role: RoleFacts | None, database: DatabaseFacts | None) -> list[Statement]:
    """The statements that bring the catalog facts to the wanted state, in order."""
    check_tenant(want)
    return _plan_role(want, role) + _plan_database(want, database)


def _plan_role(want: TenantDatabase, facts: RoleFacts | None) -> list[Statement]:
    if facts is None:
        return [create_role(want)]
    statements = [alter_role_attributes(want, facts)]
    if not verify_password(want.password, facts.password):
        statements.append(alter_role_password(want))
    return [statement for statement in statements if statement is not None]


def _plan_database(want: TenantDatabase, facts: DatabaseFacts | None) -> list[Statement]:
    if facts is None:
        return [create_database(want), revoke_public(want.database), grant_connect(want)]
    if facts.encoding.upper() not in ("UTF8", "UTF-8"):
        raise PgError(f"database {want.database} exists with encoding {facts.encoding}, but Odoo needs UTF8 and "
                      "the encoding cannot be changed in place: dump it, drop it and run again. Nothing was changed.")
    statements = []
    owner_changes = facts.owner != want.role
    if owner_changes:
        statements.append(alter_database_owner(want))
    if facts.grants(PUBLIC, "CONNECT") or facts.grants(PUBLIC, "TEMPORARY"):
        statements.append(revoke_public(want.database))
    if owner_changes or not facts.grants(want.role, "CONNECT"):
        statements.append(grant_connect(want))
    return statements


# --- the catalog ----------------------------------------------------------------------------------

ROLES_QUERY = ("SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
               "rolconnlimit, rolpassword FROM pg_authid WHERE rolname = ANY(%s)")
DATABASES_QUERY = ("SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database "
                   "WHERE datname = ANY(%s)")
# A NULL datacl means the default privileges: CONNECT and TEMPORARY for PUBLIC, all for the owner.
ACLS_QUERY = ("SELECT d.datname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, "
              "a.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
              "WHERE d.datname = ANY(%s)")


def _describe(conn) -> str:
    name = _SERVER_NAMES.get(conn)
    try:
        where = f"{conn.info.host}:{conn.info.port}"
    except psycopg.Error:  # a closed connection no longer says where it went
        where = "unknown address"
    return f"PostgreSQL server {name} ({where})" if name else f"PostgreSQL server at {where}"


def _reason(error: Exception, *secrets: str) -> str:
    diag = getattr(error, "diag", None)
    # The primary message only: the full text may quote the statement (with its password).
    text = getattr(diag, "message_primary", None) or str(error) or type(error).__name__
    return " ".join(redact_text(text, secrets).split())


def describe_error(error: Exception) -> str:
    """A psycopg error's primary message on one line (never the statement it may quote)."""
    return _reason(error)


def _query(conn, query: str, params: tuple) -> list[tuple]:
    try:
        return conn.execute(query, params).fetchall()
    except psycopg.errors.InsufficientPrivilege as error:
        raise PgError(f"reading the catalog on {_describe(conn)} was refused ({_reason(error)}): the server's "
                      "admin user must be a superuser. Nothing was changed.") from None
    except psycopg.Error as error:
        if conn.broken:
            raise _connection_lost(conn, "reading the catalog", error) from None
        raise PgError(f"reading the catalog on {_describe(conn)} failed: {_reason(error)}. Check the server and "
                      "run again.") from None


def _connection_lost(conn, doing: str, error: Exception) -> PgError:
    return PgError(f"lost the connection to {_describe(conn)} while {doing}: {_reason(error)}. Check that the "
                   "server runs and is reachable from this host, then run again: a run that stopped half way is "
                   "finished by the next one.")


def roles_facts(conn, roles) -> dict:
    """{role: RoleFacts} of those of `roles` that exist, with one query."""
    return {row[0]: RoleFacts(*row[1:]) for row in _query(conn, ROLES_QUERY, (list(roles),))}


def databases_facts(conn, databases) -> dict:
    """{database: DatabaseFacts} of those of `databases` that exist, with two queries."""
    databases = list(databases)
    acls = {}
    for name, grantee, privilege in _query(conn, ACLS_QUERY, (databases,)):
        acls.setdefault(name, set()).add((grantee, privilege))
    return {name: DatabaseFacts(owner=owner, encoding=encoding, acl=frozenset(acls.get(name, ())))
            for name, owner, encoding in _query(conn, DATABASES_QUERY, (databases,))}


def role_facts(conn, role: str) -> RoleFacts | None:
    return roles_facts(conn, [role]).get(role)


def database_facts(conn, database: str) -> DatabaseFacts | None:
    return databases_facts(conn, [database]).get(database)


class Catalog:
    """One server's role and database facts, read for many tenants at once (`preload`, one query
    per kind of fact: fleet reads) or one name at a time when asked."""

    def __init__(self, conn):
        self.conn = conn
        self._roles, self._databases = {}, {}

    def preload(self, roles, databases):
        found = roles_facts(self.conn, roles)
        self._roles.update({role: found.get(role) for role in roles})
        found = databases_facts(self.conn, databases)
        self._databases.update({database: found.get(database) for database in databases})
        return self

    def role(self, role):
        if role not in self._roles:
            self._roles[role] = role_facts(self.conn, role)
        return self._roles[role]

    def database(self, database):
        if database not in self._databases:
            self._databases[database] = database_facts(self.conn, database)
        return self._databases[database]

    def forget(self, role, database):
        """Statements ran for them: read them again when next asked."""
        self._roles.pop(role, None)
        self._databases.pop(database, None)

    def plan(self, want: TenantDatabase) -> list[Statement]:
        """The statements the tenant's role and database still need (empty when all matches); reads only."""
        check_tenant(want)
        _refuse_admin_role(self.conn, want.role)
        return plan_statements(want, self.role(want.role), self.database(want.database))


def database_exists(conn, database: str) -> bool:
    return bool(_query(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (database,)))


def role_exists(conn, role: str) -> bool:
    return bool(_query(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)))


def database_size(conn, database: str) -> int | None:
    """The database's size in bytes, None when it does not exist."""
    rows = _query(conn, "SELECT pg_database_size(oid) FROM pg_database WHERE datname = %s", (database,))
    return int(rows[0][0]) if rows else None


# Sessions the platform keeps for itself on a shared server beyond PostgreSQL's own reserved
# slots: an operator's psql and a backup's pg_dump.
PLATFORM_SESSIONS = 2


def connection_budget(conn) -> tuple[int, int]:
    """(max_connections, connections tenants can never have) of the server: its superuser and
    reserved slots plus PLATFORM_SESSIONS."""
    rows = _query(conn, "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                  (["max_connections", "superuser_reserved_connections", "reserved_connections"],))
    values = {name: int(setting) for name, setting in rows}
    reserved = values.get("superuser_reserved_connections", 0) + values.get("reserved_connections", 0)
    return values["max_connections"], reserved + PLATFORM_SESSIONS


def _refuse_admin_role(conn, role: str) -> None:
    if role == conn.info.user:
        raise PgError(f"refusing to manage role {role} as a tenant's role: it is the admin user of "
                      f"{_describe(conn)}. Nothing was changed.")


# --- the public steps -----------------------------------------------------------------------------

def connect(server: ServerConnection):
    """An autocommit connection to the server as its admin (CREATE DATABASE cannot run in a transaction)."""
    _require_psycopg()
    try:
        conn = psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                               dbname=server.dbname, sslmode=server.sslmode, connect_timeout=server.connect_timeout,
                               application_name=APPLICATION_NAME, autocommit=True)
    except psycopg.Error as error:
        raise PgError(f"cannot reach PostgreSQL server {server.name} at {server.host}:{server.port}: "
                      f"{_reason(error, server.password)}. Check that the server runs and accepts connections "
                      f"from this host, and the admin user ({server.user}) and password configured for "
                      f"{server.name}.") from None
    _SERVER_NAMES[conn] = server.name
    return conn


def plan_tenant_database(conn, want: TenantDatabase) -> list[Statement]:
    """The statements the tenant's role and database still need (empty when all matches); reads only."""
    return Catalog(conn).plan(want)


def apply_statements(conn, statements) -> None:
    """Run the statements in order; the first failure stops and raises PgError."""
    for statement in statements:
        try:
            conn.execute(statement.query(conn))
        except psycopg.Error as error:
            if conn.broken:
                raise _connection_lost(conn, f"running {statement.display}", error) from None
            raise PgError(f"{statement.display} failed on {_describe(conn)}: {_reason(error)}. The statements "
                          "before it were applied; fix the cause and run again (each step is idempotent).") from None
        reached(f"after-sql:{statement.step}")


def drop_tenant_database(conn, role: str, database: str, *, execute: bool) -> list[Statement]:
    """End the sessions, drop the database and the role; returns what ran (or would run). Idempotent."""
    check_role_name(role)
    check_database_name(database)
    _refuse_admin_role(conn, role)
    role_now = role_facts(conn, role)
    database_now = database_facts(conn, database)
    if role_now is not None and role_now.rolsuper:
        raise PgError(f"refusing to drop role {role} on {_describe(conn)}: it is a superuser, not a tenant's role. "
                      "Nothing was changed.")
    if database_now is not None and database_now.owner != role:
        raise PgError(f"refusing to drop database {database} on {_describe(conn)}: it is owned by "
                      f"{database_now.owner}, not by {role}. Check the tenant's record. Nothing was changed.")
    statements = []
    if role_now is not None or database_now is not None:
        statements.append(terminate_sessions(role, database))
    if database_now is not None:
        statements.append(drop_database(database))
    if role_now is not None:
        statements.append(drop_role(role))
    if execute:
        apply_statements(conn, statements)
    return statements
