# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant's filestore, archived next to its database dump: a backup of an Odoo instance is
the dump plus the filestore (attachments live there, not in the database).

The archive is read straight from the filestore volume's directory when the controller can
see it: a hostPath PersistentVolume (MicroK8s' hostpath-storage) whose directory exists here,
as on a single-node MicroK8s where the playbooks run on the node. When it cannot, the removal
stops before anything is dropped and says what to do.

Like the dump, the archive (``<label>-<database>-<UTC timestamp>.filestore.tar.gz``) is written
to a hidden temporary, fsynced, read back completely, hashed and only then renamed; a run that
died half way leaves only a temporary, which the next run removes.
"""

from __future__ import annotations

import os
import tarfile
from datetime import datetime, timezone

from .backup import BackupError, BackupResult, backup_file_name, check_arguments, file_sha256, write_verified

SUFFIX = ".filestore.tar.gz"
GZIP_LEVEL = 6


class FilestoreUnreachable(BackupError):
    """The filestore volume cannot be read from this controller."""


def archive_name(label: str, database: str, now: datetime) -> str:
    return backup_file_name(label, database, now)[:-len(".dump")] + SUFFIX


def volume_directory(kube, namespace: str, claim: str):
    """The local directory holding the claim's volume, or None when the claim does not exist.
    FilestoreUnreachable when it exists but this controller cannot read it."""
    pvc = kube.get("v1", "PersistentVolumeClaim", claim, namespace)
    if pvc is None:
        return None
    volume_name = (pvc.get("spec") or {}).get("volumeName")
    if not volume_name:
        return None  # never bound: nothing was ever written to it
    volume = kube.get("v1", "PersistentVolume", volume_name) or {}
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path")
    if not path:
        raise FilestoreUnreachable(
            f"the filestore of {namespace} is on volume {volume_name}, not a hostPath volume this controller can read. "
            "Copy the filestore out by hand (e.g. kubectl cp from a pod mounting claim "
            f"{claim}), then remove the tenant with backup: false; nothing was dropped.")
    if not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        raise FilestoreUnreachable(
            f"the filestore of {namespace} is the host directory {path} (volume {volume_name}), which is not readable "
            "on this controller: run the removal on the node that holds it, or copy the filestore out by hand and "
            "remove the tenant with backup: false; nothing was dropped.")
    return path


def verify_archive(path: str) -> int:
    """Read the whole archive back; returns how many members it holds. BackupError if unusable."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            count = 0
            for member in archive:
                if member.isfile():
                    extracted = archive.extractfile(member)
                    while extracted.read(1024 * 1024):
                        pass
                count += 1
            return count
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"filestore archive {path} is unreadable ({error}). Take a new backup.") from None


def archive_filestore(source: str, directory: str, database: str, *, label: str,
                      now: datetime | None = None) -> BackupResult:
    """Archive the directory `source` into `directory`, verified; returns where and its checksum."""
    check_arguments(database, label)
    final = os.path.join(directory, archive_name(label, database, now or datetime.now(timezone.utc)))

    def write(partial):
        # gzip's default level: attachments are mostly compressed already (PDFs, images), and
        # tarfile's own default (9) costs about twice the CPU for a few percent.
        with tarfile.open(partial, "w:gz", compresslevel=GZIP_LEVEL) as archive:
            archive.add(source, arcname="filestore")

    try:
        return write_verified(final, owner=f"{label}-{database}", kind=".filestore", write=write, verify=verify_archive)
    except OSError as error:
        raise BackupError(f"archiving the filestore {source} into {directory} failed: {error}. Check the directory "
                          "(space, permissions) and run again; nothing was dropped.") from None


def existing_archive(path: str) -> BackupResult:
    """An archive already under its final name (renamed only once verified), verified again and
    hashed, for a run killed before it recorded it."""
    entries = verify_archive(path)
    return BackupResult(path=path, sha256=file_sha256(path), size=os.path.getsize(path), entries=entries)
