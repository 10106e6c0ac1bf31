# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a backup or restore Job's container runs:

    python3 -m ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job backup
    python3 -m ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job restore
    python3 -m ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job import

Everything comes from the environment (request/job_contract): the tenant, the backup id, the
database through libpq's variables, the filestore directory on the mounted claim, a scratch
directory, the target and the encryption key. It prints one line per step (step, seconds so
far) and, last, one JSON line with the result; it exits 0 on success, 1 with one line saying
what to do next on failure, and is safe to run again with the same environment: a backup
whose manifest is there is not taken twice, a restore that died half way is finished.

backup:  pg_dump (custom format, read back whole by pg_restore), then the filestore archive
         (after the dump: an attachment the dump names was written before it, so it is in
         the archive), each encrypted when a recipient is set, uploaded and checked in the
         store; the manifest last (engines/backup_set).
restore: the manifest, each part downloaded and checked against its sha256 before anything
         is touched, decrypted, read back whole; then the filestore staged beside its place,
         the database restored in one transaction, the filestore renamed into place
         (engines/restore). Into an empty database, or, with ODOO_SAAS_REPLACE_RUN set,
         replacing what the database and the filestore hold (still one transaction).
import:  an Odoo database-manager export (zip) from the store, checked (engines/odoo_export:
         an Odoo dump of the tenant's major version, members inside filestore/), its dump.sql
         loaded by psql in one transaction as the tenant's role, its filestore staged and
         renamed into place the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone

from ..crashpoints import reached
from ..engines import backup, backup_set, encryption, filestore, odoo_export, restore
from ..engines.object_store import Target, open_store
from ..engines.pg import ServerConnection
from ..errors import SaasError
from ..redact import redact_text
from ..request import job_contract as env_names
from ..request import retention
from ..request.plans import parse_retention


class ProgramError(SaasError):
    """The Job's environment is incomplete or wrong; names the variable."""


class Program:
    def __init__(self, environ, out):
        self.environ = environ
        self.out = out
        self.started = time.monotonic()
        # A replacement's database step committed: a failure after it is finished by a rerun,
        # never undone (the controller keeps Odoo stopped then).
        self.replaced = False
        self.replaced_check = None  # asks the database whether this run's replacement committed
        self.pruned = []  # a scheduled backup's retention: the backups it removed

    def say(self, message):
        self.emit(f"[{time.monotonic() - self.started:6.1f}s] {message}")

    def emit(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def need(self, name):
        value = self.environ.get(name, "")
        if not value:
            raise ProgramError(f"{name} is not set: the Job's environment is incomplete (see request/job_contract)")
        return value

    def target(self):
        kind = self.need(env_names.TARGET_KIND)
        if kind == "directory":
            return Target(kind=kind, path=self.need(env_names.TARGET_PATH),
                          prefix=self.environ.get(env_names.S3_PREFIX, ""))
        return Target(kind=kind, endpoint=self.need(env_names.S3_ENDPOINT), bucket=self.need(env_names.S3_BUCKET),
                      prefix=self.environ.get(env_names.S3_PREFIX, ""), region=self.environ.get(env_names.S3_REGION, ""),
                      access_key=self.need(env_names.ACCESS_KEY), secret_key=self.need(env_names.SECRET_KEY),
                      ca_file=self.environ.get(env_names.S3_CA_FILE, ""))

    def database(self):
        try:
            port = int(self.environ.get(env_names.PGPORT) or 5432)
        except ValueError:
            raise ProgramError(f"{env_names.PGPORT}: {self.environ[env_names.PGPORT]!r} is not a port number") from None
        return ServerConnection(name=self.need(env_names.PGHOST), host=self.need(env_names.PGHOST), port=port,
                                user=self.need(env_names.PGUSER), password=self.need(env_names.PGPASSWORD),
                                dbname=self.need(env_names.PGDATABASE),
                                sslmode=self.environ.get(env_names.PGSSLMODE) or "prefer")

    def scratch(self, name):
        """A fresh directory for this run's files on the scratch volume."""
        path = os.path.join(self.need(env_names.SCRATCH), name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path, mode=0o700)
        return path

    def restore_ends(self, reading):
        """Where a restore or an import writes (the database, the filestore directory) and the
        store it reads from, checked."""
        server, target_dir = self.database(), self.need(env_names.FILESTORE)
        store = open_store(self.target())
        self.say(f"reading {reading} from {store.target.describe()}")
        store.check()
        return server, target_dir, store

    def watch_replacement(self, marker, replace_run):
        if replace_run:
            self.replaced_check = lambda: restore.replaced_already(self.database(), self.need(env_names.PGDATABASE),
                                                                   marker)

    def database_replaced(self):
        """For the failure report: True (this run's replacement committed, by this pod or an
        earlier one), False (it did not: the data is as it was), None (not a replacement, or the
        database could not say)."""
        if self.replaced:
            return True
        if self.replaced_check is None:
            return None
        try:
            return bool(self.replaced_check())
        except (SaasError, OSError):
            return None

    def secrets(self):
        return [self.environ.get(name, "") for name in env_names.SECRET_VARIABLES]


def _installed_modules(server):
    """Installed Odoo modules, or None when the database has no Odoo in it (yet)."""
    import psycopg

    try:
        with psycopg.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                             dbname=server.dbname, sslmode=server.sslmode, connect_timeout=server.connect_timeout,
                             autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('public.ir_module_module')").fetchone()[0] is None:
                return None
            return tuple(row[0] for row in conn.execute(
                "SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name"))
    except psycopg.Error:
        return None  # the dump just read this database; the list is a convenience, not the backup


def run_backup(program):
    tenant = program.need(env_names.TENANT)
    policy = None
    if program.environ.get(env_names.RETENTION):  # scheduled: this run names its backup
        policy = parse_retention(program.environ[env_names.RETENTION], env_names.RETENTION)
        backup_id = program.environ.get(env_names.BACKUP_ID) or backup_set.new_backup_id("scheduled")
    else:
        backup_id = program.need(env_names.BACKUP_ID)
    kind = backup_set.check_backup_id(backup_id, env_names.BACKUP_ID)["kind"]
    recipient = program.environ.get(env_names.ENCRYPT_TO, "")
    if recipient:
        encryption.recipient(recipient, env_names.ENCRYPT_TO)
    server = program.database()
    store = open_store(program.target())
    program.say(f"checking the backup target {store.target.describe()}")
    store.check()
    done = backup_set.read_manifest(store, tenant, backup_id)
    if done is not None:
        program.say(f"backup {tenant}/{backup_id} is already complete")
        return done, False
    started = datetime.now(timezone.utc)
    work = program.scratch(backup_id)
    program.say(f"dumping database {server.dbname} from {server.host}:{server.port}")
    dump = backup.backup_database(server, server.dbname, work, label=tenant, now=started)
    reached("backup-job:dumped")
    program.say(f"dump verified: {dump.size} bytes, {dump.entries} entries")
    modules = _installed_modules(server)
    source = program.need(env_names.FILESTORE)
    if not os.path.isdir(source):
        program.say(f"no filestore at {source} yet: archiving an empty one")
        source = os.path.join(work, "empty-filestore")
        os.makedirs(source)
    program.say(f"archiving the filestore {source}")
    archive = filestore.archive_filestore(source, work, server.dbname, label=tenant, now=started)
    reached("backup-job:archived")
    program.say(f"filestore archive verified: {archive.size} bytes, {archive.entries} entries")
    parts = {}
    for part, saved in (("database", dump), ("filestore", archive)):
        path = saved.path
        if recipient:
            program.say(f"encrypting the {part} part")
            path = saved.path + encryption.SUFFIX
            encryption.encrypt_file(saved.path, path, recipient)
        key = backup_set.part_key(tenant, backup_id, part, bool(recipient))
        size, digest = os.path.getsize(path), backup.file_sha256(path)
        program.say(f"uploading {key} ({size} bytes)")
        store.put_file(key, path)
        stored = store.size(key)
        if stored != size:
            raise backup_set.BackupSetError(f"{key} holds {stored} bytes in the store after the upload of {size}: run "
                                            "the backup again.")
        parts[part] = backup_set.Part(key=key, size=size, sha256=digest, entries=saved.entries)
        reached(f"backup-job:uploaded-{part}")
    manifest = backup_set.Manifest(
        tenant=tenant, backup_id=backup_id, kind=kind, plan=program.environ.get(env_names.PLAN, ""),
        odoo_version=program.environ.get(env_names.ODOO_VERSION, ""), database=server.dbname,
        started_at=started.isoformat(), completed_at=datetime.now(timezone.utc).isoformat(),
        encrypted_to=recipient or None, parts=parts, modules=modules)
    store.put_bytes(backup_set.manifest_key(tenant, backup_id), manifest.to_json())
    reached("backup-job:complete")
    shutil.rmtree(work)
    program.say(f"backup {tenant}/{backup_id} complete: {manifest.size} bytes")
    if policy is not None:
        prune_store(program, store, tenant, policy)
    return manifest, True


def prune_store(program, store, tenant, policy):
    """The plan's retention applied in the store (the ledger learns it from the store: a row
    whose backup is gone reads pruned). Manifest first: each pruned backup is invisible at once."""
    choice = retention.choose(backup_set.stored(backup_set.list_backups(store, tenant)), policy)
    for backup_id in choice.prune:
        backup_set.delete_backup(store, tenant, backup_id)
        program.say(f"pruned {tenant}/{backup_id} (retention {policy.retention_text()})")
    program.pruned = list(choice.prune)


def _marker(name, replace_run):
    return f"{name} (run {replace_run})" if replace_run else name


def _already_loaded(program, server, target_dir, marker, replace_run):
    """True when this restore (or import) is done; a replacement whose database step committed
    has its filestore swap finished here."""
    if replace_run:
        if not restore.replaced_already(server, server.dbname, marker):
            return False
        program.replaced = True
        if restore.swap_filestore(target_dir):
            program.say(f"the database holds {marker}: finished putting its filestore in place")
        return True
    return restore.database_state(server, server.dbname, marker) == "restored" and restore.filestore_in_place(target_dir)


def _load(program, server, target_dir, loading, marker, replace_run, work):
    """The database, then the filestore: `loading` is (dump path, kind, staged filestore)."""
    dump, kind, staging = loading
    if replace_run:
        restore.replace_database(server, server.dbname, dump, marker, program.say, work, kind=kind)
        program.replaced = True
        restore.swap_filestore(target_dir)
        return
    program.say(f"restoring database {server.dbname} (one transaction)")
    restore.restore_database(server, server.dbname, dump, marker, program.say, kind=kind)
    restore.place_filestore(staging, target_dir)


def run_restore(program):
    source_tenant = program.environ.get(env_names.SOURCE_TENANT) or program.need(env_names.TENANT)
    backup_id = program.need(env_names.BACKUP_ID)
    backup_set.check_backup_id(backup_id, env_names.BACKUP_ID)
    name = f"{source_tenant}/{backup_id}"
    replace_run = program.environ.get(env_names.REPLACE_RUN, "")
    marker = _marker(name, replace_run)
    program.watch_replacement(marker, replace_run)
    server, target_dir, store = program.restore_ends(f"backup {name}")
    manifest = backup_set.read_manifest(store, source_tenant, backup_id)
    if manifest is None:
        raise backup_set.BackupSetError(f"{env_names.BACKUP_ID}: tenant {source_tenant} has no complete backup "
                                        f"{backup_id} on {store.target.describe()}: list its backups and choose one; "
                                        "nothing was restored.")
    if _already_loaded(program, server, target_dir, marker, replace_run):
        program.say(f"backup {name} is already restored into {server.dbname}")
        return manifest, False
    work = program.scratch(f"restore-{backup_id}")
    identity = program.environ.get(env_names.IDENTITY, "")
    paths = {}
    for part in backup_set.PART_FILES:
        program.say(f"downloading and checking the {part} part ({manifest.parts[part].size} bytes)")
        paths[part] = backup_set.fetch_part(store, manifest, part, work, identity)
    entries = backup_set.verify_parts(paths)
    reached("restore-job:fetched")
    program.say(f"parts verified: {entries['database']} dump entries, {entries['filestore']} archive entries")
    staging = restore.stage_filestore(paths["filestore"], target_dir, replace=bool(replace_run))
    _load(program, server, target_dir, (paths["database"], "custom", staging), marker, replace_run, work)
    reached("restore-job:complete")
    shutil.rmtree(work)
    program.say(f"backup {name} restored into database {server.dbname} and {target_dir}")
    return manifest, True


def run_import(program):
    key = program.need(env_names.IMPORT_KEY)
    name = f"import {key}"
    replace_run = program.environ.get(env_names.REPLACE_RUN, "")
    marker = _marker(name, replace_run)
    program.watch_replacement(marker, replace_run)
    server, target_dir, store = program.restore_ends(f"the Odoo export {key}")
    size = store.size(key)
    if size is None:
        raise backup_set.BackupSetError(f"{env_names.IMPORT_KEY}: {store.target.describe()} holds no {key}: upload the "
                                        "export there first; nothing was imported.")
    if _already_loaded(program, server, target_dir, marker, replace_run):
        program.say(f"{key} is already imported into {server.dbname}")
        return {"imported": key, "size": size, "tenant": program.need(env_names.TENANT)}, False
    work = program.scratch("import")
    export = os.path.join(work, "export.zip")
    store.get_file(key, export)
    found = odoo_export.read_export(export, program.need(env_names.ODOO_VERSION), key)
    program.say(f"an Odoo {found.version} export of {found.db_name or 'a database'}: {len(found.modules)} modules, "
                f"{found.files} filestore files")
    dump = os.path.join(work, odoo_export.DUMP)
    odoo_export.extract_dump(export, dump)
    staging = restore.stage_filestore(export, target_dir, extract=restore.extract_zip_filestore,
                                      replace=bool(replace_run))
    _load(program, server, target_dir, (dump, "sql", staging), marker, replace_run, work)
    reached("import-job:complete")
    shutil.rmtree(work)
    program.say(f"{key} imported into database {server.dbname} and {target_dir}")
    return {"imported": key, "size": size, "tenant": program.need(env_names.TENANT), "modules": len(found.modules),
            "files": found.files}, True


def _summary(program, manifest, changed):
    summary = {"backup_id": manifest.backup_id, "tenant": manifest.tenant, "size": manifest.size,
               "parts": {name: part.sha256 for name, part in manifest.parts.items()}}
    if program.pruned:
        summary["pruned"] = program.pruned
    return summary, changed


def main(argv=None, environ=None, out=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    program = Program(os.environ if environ is None else environ, out or sys.stdout)
    command = argv[0] if argv else ""
    try:
        if command == "backup":
            summary, changed = _summary(program, *run_backup(program))
        elif command == "restore":
            summary, changed = _summary(program, *run_restore(program))
        elif command == "import":
            summary, changed = run_import(program)
        else:
            raise ProgramError(f"command: {command!r} is not one of {', '.join(env_names.COMMANDS)}")
    except (SaasError, OSError) as error:
        message = redact_text(str(error), program.secrets())
        program.emit(json.dumps({"failed": True, "msg": message, "database_replaced": program.database_replaced()}))
        return 1
    program.emit(json.dumps({"changed": changed, **summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
