# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A verified pg_dump of one database, written atomically.

The dump (custom format) goes to a temporary file next to its final name, is fsynced, read
back completely by pg_restore, hashed, and only then renamed to
``<label>-<database>-<UTC timestamp>.dump``. A run that dies half way leaves only a hidden
temporary, which the next run of the same label and database removes. The admin password
reaches pg_dump through its environment (PGPASSWORD), never its command line.

Owner and privilege information is kept in the dump (no ``--no-owner``/``--no-acl``): in the
custom format those options only matter at restore time, where ``pg_restore --no-owner
--role=<new role>`` can still drop it, while a dump without it could never get it back.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone

from ..crashpoints import reached
from ..errors import SaasError
from .pg import ServerConnection, check_identifier, PgError
from ..redact import redact_text

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
PARTIAL_MARK = ".partial-"
STDERR_TAIL = 2000
READ_CHUNK = 1024 * 1024


class BackupError(SaasError):
    """A backup failed or is unusable. Names the database and what to do next; never a password."""


@dataclass(frozen=True)
class BackupResult:
    path: str
    sha256: str
    size: int
    entries: int  # TOC entries pg_restore --list shows (the archive's objects and data)


# --- tools ----------------------------------------------------------------------------------------

def _version_key(bin_dir: str) -> tuple:
    version = os.path.basename(os.path.dirname(bin_dir))
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_tool(name: str) -> str:
    """The newest PostgreSQL client tool: /usr/lib/postgresql/<version>/bin first (a newer pg_dump
    can dump older servers, not the reverse), else the PATH."""
    candidates = [os.path.dirname(path) for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")]
    if candidates:
        return os.path.join(max(candidates, key=_version_key), name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} was not found (neither in /usr/lib/postgresql/*/bin nor on the PATH): "
                          "install the PostgreSQL client tools (Debian/Ubuntu: postgresql-client).")
    return found


def _client_environment(server: ServerConnection) -> dict:
    # Drop the caller's PG* variables (PGSERVICE, PGOPTIONS, ...) so only this server's settings apply.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment.update(PGPASSWORD=server.password, PGSSLMODE=server.sslmode,
                       PGCONNECT_TIMEOUT=str(server.connect_timeout), PGAPPNAME="odoo_saas.kit backup")
    return environment


def _tail(text: str, *secrets: str) -> str:
    return " ".join(redact_text(text, secrets).strip()[-STDERR_TAIL:].split())


# --- verification ---------------------------------------------------------------------------------

def _run_pg_restore(arguments: list, path: str) -> str:
    try:
        completed = subprocess.run([find_tool("pg_restore"), *arguments, path], capture_output=True, text=True,
                                   check=False, stdin=subprocess.DEVNULL)
    except OSError as error:
        raise BackupError(f"cannot run pg_restore to verify {path}: {error}.") from None
    if completed.returncode != 0:
        raise BackupError(f"backup {path} is unreadable (pg_restore {' '.join(arguments)}: "
                          f"{_tail(completed.stderr) or 'exit ' + str(completed.returncode)}). Take a new backup.")
    return completed.stdout


def verify_backup(path: str, *, read_data: bool = True) -> int:
    """The number of TOC entries of a custom-format dump; BackupError if it is unusable.

    With read_data (the default) pg_restore also reads every data block: a truncated dump
    still lists its table of contents, but fails there.
    """
    listing = _run_pg_restore(["--list"], path)
    if not re.search(r"^;\s+TOC Entries: [1-9]", listing, re.MULTILINE):
        raise BackupError(f"backup {path} has no table of contents: it is empty or not a pg_dump archive. "
                          "Take a new backup.")
    if read_data:
        _run_pg_restore(["--file", os.devnull], path)
    # An empty database lists no entries (only the archive's header): a valid, empty backup.
    return sum(1 for line in listing.splitlines() if line.strip() and not line.startswith(";"))


# --- files ----------------------------------------------------------------------------------------

def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(READ_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: str) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prepare_directory(directory: str) -> None:
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)  # makedirs' mode is filtered by the umask


class _Lock:
    """An exclusive lock per label and database, so a run only removes temporaries of dead runs."""

    def __init__(self, path: str):
        self.path = path
        self.descriptor = None

    def __enter__(self):
        self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.descriptor, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        os.close(self.descriptor)


def _remove_stale_partials(directory: str, prefix: str) -> None:
    for path in glob.glob(os.path.join(glob.escape(directory), glob.escape(prefix) + "*")):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def backup_file_name(label: str, database: str, now: datetime) -> str:
    when = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)
    return f"{label}-{database}-{when.strftime(TIMESTAMP_FORMAT)}.dump"


# --- the backup -----------------------------------------------------------------------------------

def check_arguments(database: str, label: str) -> None:
    try:
        check_identifier(database, "database")
    except PgError as error:
        raise BackupError(str(error)) from None
    if not isinstance(label, str) or not LABEL.match(label):
        raise BackupError(f"refusing backup label {label!r}: use 1 to 63 characters among A-Z, a-z, 0-9, _ and -, "
                          "starting with a letter or digit.")


def _dump(server: ServerConnection, database: str, target: str) -> None:
    command = [find_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}", f"--host={server.host}",
               f"--port={server.port}", f"--username={server.user}", f"--dbname={database}"]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                                   env=_client_environment(server))
    except OSError as error:
        raise BackupError(f"cannot run pg_dump for database {database} on server {server.name}: {error}.") from None
    if completed.returncode != 0:
        raise BackupError(f"pg_dump of database {database} on server {server.name} ({server.host}:{server.port}) "
                          f"failed: {_tail(completed.stderr, server.password) or 'exit ' + str(completed.returncode)}. "
                          "Check that the server is reachable, the admin credentials and that the database "
                          "exists, then run the backup again. No backup file was written.")


def write_verified(final: str, *, owner: str, kind: str, write, verify, crash_points=(None, None, None)) -> BackupResult:
    """Write a file that appears under `final` only complete, flushed and verified.

    `write(partial)` fills a hidden temporary (0600) next to `final`, `verify(partial)` reads it
    back and returns its entry count; then it is hashed and renamed. Under the lock of `owner`
    (label-database: its dump and filestore archive take turns), the temporaries a dead run left
    for this `kind` of file are removed first. `crash_points`: reached once written, verified and
    renamed. OSError is left to the caller to word."""
    written, verified, renamed = crash_points
    directory = os.path.dirname(final)
    prepare_directory(directory)
    with _Lock(os.path.join(directory, f".{owner}.lock")):
        prefix = f".{owner}{kind}{PARTIAL_MARK}"
        _remove_stale_partials(directory, prefix)
        if os.path.exists(final):
            raise BackupError(f"{final} already exists: keep it and run again in a second.")
        descriptor, partial = tempfile.mkstemp(prefix=prefix, dir=directory)  # created 0600
        os.close(descriptor)
        try:
            write(partial)
            if written:
                reached(written)
            os.chmod(partial, 0o600)
            _fsync_file(partial)
            entries = verify(partial)
            result = BackupResult(path=final, sha256=file_sha256(partial), size=os.path.getsize(partial), entries=entries)
            if verified:
                reached(verified)
            os.rename(partial, final)
        except BaseException:
            _remove_quietly(partial)
            raise
        _fsync_directory(directory)
        if renamed:
            reached(renamed)
        return result


def backup_database(server: ServerConnection, database: str, directory: str, *, label: str,
                    now: datetime | None = None) -> BackupResult:
    """Dump the database into directory, verify it and return where it is and its checksum."""
    check_arguments(database, label)
    final = os.path.join(directory, backup_file_name(label, database, now or datetime.now(timezone.utc)))
    try:
        return write_verified(final, owner=f"{label}-{database}", kind="",
                              write=lambda partial: _dump(server, database, partial),
                              verify=lambda partial: _verify_new_dump(server, database, partial),
                              crash_points=("backup:dump-written", "backup:verified", "backup:renamed"))
    except OSError as error:
        raise BackupError(f"backup of database {database} into {directory} failed: {error}. Check the directory "
                          "(space, permissions) and run the backup again.") from None


def existing_backup(path: str) -> BackupResult:
    """A backup file already under its final name (renamed only once verified): verified again
    and hashed, for a run that was killed before it recorded it."""
    try:
        entries = verify_backup(path)
        return BackupResult(path=path, sha256=file_sha256(path), size=os.path.getsize(path), entries=entries)
    except OSError as error:
        raise BackupError(f"cannot read backup {path}: {error}. Check the backup directory and run again.") from None


def _verify_new_dump(server: ServerConnection, database: str, partial: str) -> int:
    try:
        return verify_backup(partial)
    except BackupError as error:
        raise BackupError(f"the dump of database {database} on server {server.name} did not verify, so no backup "
                          f"file was kept: {error}") from None
