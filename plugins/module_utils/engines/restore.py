# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Putting a backup's parts back: the dump into an empty database, the filestore archive into
the directory Odoo reads for that database.

The database is restored as its owner (the tenant's role, no superuser): `pg_restore
--no-owner --no-acl` makes that role own every object, whatever the source's role was called,
in one transaction, so a failure or a kill leaves nothing of it. Around it the database's
comment records what it holds: "restoring <backup>" before, "restored <backup>" after. A rerun
that finds its own backup half done (the comment says restoring) empties the database and
starts again; one that finds it restored goes on to the filestore; a database that holds
anything else is refused, never emptied.

The filestore is extracted beside its final place (`<dir>.restoring`) and renamed into place
only after the database is restored: Odoo never sees a database without its files, nor files
of a database restore that did not happen.

Replacing (a restore into a tenant that holds data: tenant_restore, with Odoo stopped) is one
transaction too: the dump is first turned into a script on the scratch volume (pg_restore -f,
read whole before anything is touched), then psql runs, in a single transaction, the drop of
every schema the tenant's role owns, the script, and the comment "restored <run>". A failure
or a kill leaves the database exactly as it was; success leaves exactly the backup. The old
filestore is renamed aside (`<dir>.replaced`) only after that commit, the staged one put in
its place, the old one deleted; each step is found and finished by a rerun of the same run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import zipfile

from ..crashpoints import reached
from ..errors import SaasError
from .backup import _client_environment, _tail, find_tool

RESTORING, RESTORED = "odoo-saas-kit: restoring ", "odoo-saas-kit: restored "


class RestoreError(SaasError):
    """A restore refused or failed; names what to do next, never a password."""


def _connect(server, database):
    import psycopg

    try:
        return psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                               dbname=database, sslmode=server.sslmode, connect_timeout=server.connect_timeout,
                               autocommit=True, application_name="odoo_saas.kit restore")
    except psycopg.Error as error:
        raise RestoreError(f"cannot connect to database {database} on {server.host}:{server.port} as {server.user}: "
                           f"{_tail(str(error), server.password)}. Check the database exists and its credentials, then "
                           "run again; nothing was restored.") from None


def _comment(conn, database):
    row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                       (database,)).fetchone()
    return (row[0] if row else None) or ""


def _set_comment(conn, database, text):
    from psycopg import sql

    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(database), sql.Literal(text)))


def _user_relations(conn):
    return conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'").fetchone()[0]


def _empty_public_schema(conn):
    # The public schema belongs to the database's owner (pg_database_owner), which we are.
    with conn.transaction():
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def database_state(server, database: str, backup_name: str) -> str:
    """restored, restoring (a run of this backup died in it) or empty; RestoreError when the
    database holds anything else."""
    with _connect(server, database) as conn:
        comment = _comment(conn, database)
        if comment == RESTORED + backup_name:
            return "restored"
        if comment == RESTORING + backup_name:
            return "restoring"
        if _user_relations(conn):
            raise RestoreError(f"database {database} is not empty ({comment or 'no restore recorded'}): restore into a "
                               "new, empty database; nothing was restored.")
        return "empty"


def _connection_options(server, database):
    return ["--no-password", f"--host={server.host}", f"--port={server.port}", f"--username={server.user}",
            f"--dbname={database}"]


def _load(server, database, tool, command, outcome):
    """Run a load (pg_restore or psql, one transaction); RestoreError with its words on failure."""
    completed = subprocess.run(command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                               env=_client_environment(server))
    if completed.returncode != 0:
        raise RestoreError(f"{tool} into database {database} failed: "
                           f"{_tail(completed.stderr, server.password) or 'exit ' + str(completed.returncode)}. "
                           f"{outcome}; fix the cause and run again.")


def _load_command(server, database, path, kind):
    connection = _connection_options(server, database)
    if kind == "custom":  # our backups: pg_dump --format=custom
        return "pg_restore", [find_tool("pg_restore"), "--no-owner", "--no-acl", "--single-transaction",
                              "--exit-on-error", *connection, path]
    # An Odoo database-manager export: dump.sql, plain SQL from pg_dump --no-owner.
    return "psql", [find_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                    *connection, f"--file={path}"]


def restore_database(server, database: str, dump: str, backup_name: str, say, kind="custom") -> bool:
    """Load the dump (kind custom: pg_restore; sql: psql) into `database` as its owner, in one
    transaction; False when it already holds it."""
    state = database_state(server, database, backup_name)
    if state == "restored":
        say(f"database {database} already holds {backup_name}")
        return False
    with _connect(server, database) as conn:
        if state == "restoring":
            say(f"database {database} holds an unfinished restore of {backup_name}: emptying it to start again")
            _empty_public_schema(conn)
        _set_comment(conn, database, RESTORING + backup_name)
    reached("restore:marked")
    tool, command = _load_command(server, database, dump, kind)
    _load(server, database, tool, command, "Nothing of it was kept (one transaction)")
    reached("restore:database-restored")
    with _connect(server, database) as conn:
        _set_comment(conn, database, RESTORED + backup_name)
    return True


# Every schema the connected role may drop (its own, and public through pg_database_owner:
# PostgreSQL 15 and later, the platform's minimum), then an empty public schema for the script.
_DROP_OWNED_SCHEMAS = """DO $odoo_saas$
DECLARE schema_name text;
BEGIN
    FOR schema_name IN SELECT nspname FROM pg_namespace
            WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
              AND pg_has_role(nspowner, 'USAGE') LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', schema_name);
    END LOOP;
END $odoo_saas$;
CREATE SCHEMA public;
"""


def replaced_already(server, database: str, run_name: str) -> bool:
    with _connect(server, database) as conn:
        return _comment(conn, database) == RESTORED + run_name


def replace_database(server, database: str, dump: str, run_name: str, say, scratch: str, kind="custom") -> bool:
    """Replace whatever `database` holds with the dump, in one transaction, as its owner; False
    when this run already did."""
    from psycopg import sql

    if replaced_already(server, database, run_name):
        say(f"database {database} already holds {run_name}")
        return False
    script = dump
    if kind == "custom":
        script = os.path.join(scratch, "restore.sql")
        say("turning the dump into a script (read whole before the database is touched)")
        completed = subprocess.run([find_tool("pg_restore"), "--no-owner", "--no-acl", f"--file={script}", dump],
                                   capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if completed.returncode != 0:
            raise RestoreError(f"pg_restore could not read the dump: {_tail(completed.stderr) or completed.returncode}. "
                               "Nothing was restored.")
    comment = sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(database), sql.Literal(RESTORED + run_name))
    with _connect(server, database) as conn:
        comment_text = comment.as_string(conn)
    say(f"replacing what database {database} holds (one transaction)")
    reached("restore:replacing")
    command = [find_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
               *_connection_options(server, database), f"--command={_DROP_OWNED_SCHEMAS}", f"--file={script}",
               f"--command={comment_text}"]
    _load(server, database, "psql", command, "The database is as it was (one transaction)")
    reached("restore:database-replaced")
    return True


def check_member_name(name: str, what: str) -> None:
    """Refuse a member that is not under filestore/ or climbs out of it."""
    parts = name.split("/")
    if parts[0] != "filestore" or ".." in parts or name.startswith("/"):
        raise RestoreError(f"{what} member {name!r} is outside filestore/: refused; nothing was restored.")


def _safe_members(archive):
    for member in archive:
        check_member_name(member.name, "filestore archive")
        if not (member.isdir() or member.isfile()):
            raise RestoreError(f"filestore archive member {member.name!r} is a link or device: refused; nothing was "
                               "restored.")
        yield member


def filestore_in_place(target: str) -> bool:
    return os.path.isdir(target) and bool(os.listdir(target)) and not os.path.isdir(target + ".restoring")


def _extract_tar(archive_path, into):
    with tarfile.open(archive_path, "r:gz") as archive:
        archive.extractall(into, members=_safe_members(archive), filter="data")


def extract_zip_filestore(zip_path, into):
    """The filestore/ members of an Odoo export (zip) into `into`; other members are left alone."""
    with zipfile.ZipFile(zip_path) as export:
        for info in export.infolist():
            if not info.filename.startswith("filestore/"):
                continue
            check_member_name(info.filename, "export")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise RestoreError(f"export member {info.filename!r} is a symbolic link: refused; nothing was restored.")
            export.extract(info, into)


def stage_filestore(archive_path: str, target: str, extract=_extract_tar, replace=False) -> str:
    """Extract the archive's filestore/ into `<target>.restoring`. A non-empty target is
    refused, unless it is to be replaced (swap_filestore)."""
    staging = target + ".restoring"
    if not replace and os.path.isdir(target) and os.listdir(target):
        raise RestoreError(f"filestore directory {target} already holds files: restore into a new tenant's directory, "
                           "or move it aside; nothing was restored.")
    if os.path.isdir(staging):
        shutil.rmtree(staging)  # an extraction a killed run left half done
    unpacked = staging + ".unpack"
    if os.path.isdir(unpacked):
        shutil.rmtree(unpacked)
    os.makedirs(unpacked, mode=0o700)
    extract(archive_path, unpacked)
    os.makedirs(os.path.join(unpacked, "filestore"), exist_ok=True)
    os.rename(os.path.join(unpacked, "filestore"), staging)
    os.rmdir(unpacked)
    reached("restore:filestore-staged")
    return staging


def place_filestore(staging: str, target: str) -> None:
    if os.path.isdir(target):
        os.rmdir(target)  # empty (stage_filestore refused a full one)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(staging, target)


def swap_filestore(target: str) -> bool:
    """Put the staged filestore in place of the old one (kept at `<target>.replaced` until the
    new one is there, then deleted); finishes a swap a killed run left half done. False when
    there was nothing left to do."""
    staging, aside = target + ".restoring", target + ".replaced"
    did = False
    if os.path.isdir(staging):
        if os.path.isdir(target) and not os.path.isdir(aside):
            os.rename(target, aside)
            reached("restore:filestore-aside")
        elif os.path.isdir(target):
            raise RestoreError(f"{target} and {aside} are both there while the restored filestore waits at {staging}: "
                               "something wrote files after the database was replaced (was Odoo started?). Stop "
                               f"Odoo, keep what {target} holds if it matters, remove it, and run the restore again.")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(staging, target)
        did = True
    if os.path.isdir(aside):
        shutil.rmtree(aside)
        did = True
    return did
