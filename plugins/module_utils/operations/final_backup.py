# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup a removal takes before it drops anything: the database dump and the filestore
archive, each recorded in the ledger where it will be before it is written, so a run killed
after the rename finds it (verified again) instead of taking a second one."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ..crashpoints import reached
from ..engines import backup, filestore, ledger
from ..errors import SaasError


def refuse_what_cannot_be_backed_up(record, take_backup):
    """Before the removal changes anything (the tenant still runs): a backup this version cannot
    take is refused here, not after Odoo and its database were scaled to zero."""
    if take_backup and record.db_strategy != "shared" and not record.backup_location:
        raise SaasError(f"tenant {record.name} has a dedicated PostgreSQL: its backup must be taken inside the cluster, "
                        "which this version does not do yet. Take one by hand (pg_dump from its postgres pod, and its "
                        "filestore volume), then run again with backup: false; nothing was changed")


def backup_database(run, record):
    if record.backup_location and os.path.exists(record.backup_location) and record.state == "deleting":
        run.say(f"reusing the verified backup {record.backup_location}")
        if record.backup_sha256:
            backup.verify_backup(record.backup_location)
            return backup.BackupResult(record.backup_location, record.backup_sha256, record.backup_size or 0, 0)
        # Renamed into place (so verified) by a run killed before it recorded the checksum.
        saved = backup.existing_backup(record.backup_location)
        if not run.check_mode:
            ledger.set_state(run.ledger, record.name, "deleting", location=saved.path, sha256=saved.sha256, size=saved.size)
        return saved
    if record.db_strategy != "shared":
        raise SaasError(f"tenant {record.name} has a dedicated PostgreSQL: its backup must be taken inside the cluster, "
                        "which this version does not do yet. Take one by hand and run again with backup: false")
    if run.check_mode:
        run.actions.append(f"backup {record.database} to {run.platform.backup_dir} (check mode)")
        return None
    run.say(f"backing up {record.database} from {record.server}")
    server = run.connections.server(record.server).admin
    now = datetime.now(timezone.utc)
    # Where the backup will be is recorded first: a run killed once it is renamed into place
    # finds it there and records it, instead of leaving it behind and taking another.
    planned = os.path.join(run.platform.backup_dir, backup.backup_file_name(record.name, record.database, now))
    ledger.set_state(run.ledger, record.name, "deleting", location=planned)
    saved = backup.backup_database(server, record.database, run.platform.backup_dir, label=record.name, now=now)
    run.changed = True
    run.actions.append(f"backup {record.database} -> {saved.path} (sha256 {saved.sha256}, {saved.entries} entries verified)")
    # Recorded at once, so a run killed after this point reuses it instead of dumping again.
    ledger.set_state(run.ledger, record.name, "deleting", location=saved.path, sha256=saved.sha256, size=saved.size)
    return saved


def backup_filestore(run, record, store):
    """The filestore archive next to the dump; recorded where it will be before it is written, so a
    run killed after the rename finds it (verified again) instead of taking a second one."""
    recorded = record.filestore_backup or {}
    if recorded.get("location") and os.path.exists(recorded["location"]):
        if recorded.get("sha256"):
            filestore.verify_archive(recorded["location"])
            run.say(f"reusing the verified filestore archive {recorded['location']}")
            return
        saved = filestore.existing_archive(recorded["location"])
    elif store is None:
        run.say(f"tenant {record.name} has no filestore volume: nothing to archive")
        return
    elif run.check_mode:
        run.actions.append(f"archive the filestore {store} to {run.platform.backup_dir} (check mode)")
        return
    else:
        now = datetime.now(timezone.utc)
        planned = os.path.join(run.platform.backup_dir, filestore.archive_name(record.name, record.database, now))
        ledger.set_state(run.ledger, record.name, "deleting", filestore={"location": planned})
        run.say(f"archiving the filestore of {record.namespace}")
        saved = filestore.archive_filestore(store, run.platform.backup_dir, record.database, label=record.name, now=now)
        reached("filestore:archived")
        run.changed = True
        run.actions.append(f"filestore {record.namespace} -> {saved.path} (sha256 {saved.sha256}, "
                           f"{saved.entries} entries verified)")
    ledger.set_state(run.ledger, record.name, "deleting",
                     filestore={"location": saved.path, "sha256": saved.sha256, "size": saved.size})
