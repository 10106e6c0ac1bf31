# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One backup in the object store: its parts, its manifest, and what makes it visible.

Layout, below the target's prefix::

    <tenant>/<backup id>/database.dump[.age]      pg_dump --format=custom
    <tenant>/<backup id>/filestore.tar.gz[.age]   filestore/<files of filestore/<database>>
    <tenant>/<backup id>/manifest.json            written last

A backup exists only through its manifest. The parts are uploaded first, each checked in the
store by size, and the manifest, which holds each part's size and sha256, is written last: a
run killed or cut off before that leaves parts that no listing shows, and the next run of the
same backup id overwrites them. Deleting removes the manifest first, so a delete that dies half
way leaves an invisible remainder, never a backup that lacks a part.

The filestore archive holds Odoo's directory `filestore/<database>` as `filestore/`, with no
database name inside: restoring into another database extracts it under that name (ODOO.md:
renaming a database means renaming its filestore directory).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from ..errors import SaasError
from ..request.naming import BACKUP_ID, BACKUP_KINDS
from . import backup, encryption, filestore

FORMAT = 1
MANIFEST = "manifest.json"
PART_FILES = {"database": "database.dump", "filestore": "filestore.tar.gz"}
KINDS = BACKUP_KINDS
ID_TIME = "%Y%m%d-%H%M%S"


class BackupSetError(SaasError):
    """A backup in the store is missing, incomplete, damaged or malformed."""


def new_backup_id(kind: str, now: datetime | None = None) -> str:
    if kind not in KINDS:
        raise BackupSetError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{when.strftime(ID_TIME)}-{kind}-{secrets.token_hex(3)}"


def check_backup_id(backup_id: str, field_name: str = "backup_id") -> re.Match:
    match = BACKUP_ID.match(backup_id or "")
    if not match:
        raise BackupSetError(f"{field_name}: {backup_id!r} is not a backup id (YYYYMMDD-HHMMSS-<kind>-<6 hex>, "
                             f"kind one of {', '.join(KINDS)}); list a tenant's backups with tenant_backups")
    return match


def taken_at(backup_id: str) -> datetime:
    return datetime.strptime(check_backup_id(backup_id)["time"], ID_TIME).replace(tzinfo=timezone.utc)


def part_key(tenant: str, backup_id: str, part: str, encrypted: bool) -> str:
    return f"{tenant}/{backup_id}/{PART_FILES[part]}" + (encryption.SUFFIX if encrypted else "")


def manifest_key(tenant: str, backup_id: str) -> str:
    return f"{tenant}/{backup_id}/{MANIFEST}"


@dataclass(frozen=True)
class Part:
    key: str
    size: int
    sha256: str
    entries: int  # pg_restore --list entries, or archive members


@dataclass(frozen=True)
class Manifest:
    tenant: str
    backup_id: str
    kind: str
    plan: str
    odoo_version: str
    database: str
    started_at: str
    completed_at: str
    encrypted_to: str | None  # the age recipient of the parts, None when they are plain
    parts: dict = field(default_factory=dict)  # {"database": Part, "filestore": Part}
    modules: tuple | None = None  # installed Odoo modules, when the database had them
    format: int = FORMAT

    @property
    def size(self):
        return sum(part.size for part in self.parts.values())

    def to_json(self) -> bytes:
        body = asdict(self)
        body["modules"] = list(self.modules) if self.modules is not None else None
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> "Manifest":
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise BackupSetError(f"{where}: manifest format {body.get('format')!r}; this collection reads format "
                                     f"{FORMAT}: use the collection version that wrote it")
            parts = {name: Part(**body["parts"][name]) for name in PART_FILES}
            modules = body.get("modules")
            return cls(**{**body, "parts": parts, "modules": tuple(modules) if modules is not None else None})
        except BackupSetError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise BackupSetError(f"{where}: the manifest is unreadable ({type(error).__name__}: {error}): the backup "
                                 "is damaged; use another one") from None


def read_manifest(store, tenant: str, backup_id: str) -> Manifest | None:
    """The backup's manifest, or None when it has none (never started, or not complete)."""
    key = manifest_key(tenant, backup_id)
    if store.size(key) is None:
        return None
    manifest = Manifest.from_json(store.get_bytes(key), key)
    if manifest.tenant != tenant or manifest.backup_id != backup_id:
        raise BackupSetError(f"{key}: the manifest names {manifest.tenant}/{manifest.backup_id}: the backup was moved "
                             "or damaged; use another one")
    return manifest


@dataclass(frozen=True)
class Listing:
    complete: tuple  # Manifests, newest first
    incomplete: tuple  # backup ids with parts but no manifest (running, or left by a killed run)


def _backup_files(keys) -> dict:
    """{tenant: {backup id: the file names below it}} of keys listed below the target's prefix."""
    found = {}
    for key in keys:
        pieces = key.split("/")
        if len(pieces) == 3 and BACKUP_ID.match(pieces[1]):
            found.setdefault(pieces[0], {}).setdefault(pieces[1], set()).add(pieces[2])
    return found


def list_backups(store, tenant: str) -> Listing:
    ids = _backup_files(store.keys(f"{tenant}/")).get(tenant, {})
    complete = [read_manifest(store, tenant, backup_id) for backup_id, names in ids.items() if MANIFEST in names]
    complete = [manifest for manifest in complete if manifest is not None]  # deleted since the listing (a prune)
    incomplete = [backup_id for backup_id, names in ids.items() if MANIFEST not in names]
    return Listing(complete=tuple(sorted(complete, key=lambda m: m.backup_id, reverse=True)),
                   incomplete=tuple(sorted(incomplete, reverse=True)))


def newest_complete(store, tenant: str | None = None) -> dict:
    """{tenant: the id of its newest backup that has a manifest} for one tenant, or for every
    tenant of the target (fleet reads), from one listing. A backup is complete once its manifest
    is there (it is written last); the manifests are not read."""
    listed = _backup_files(store.keys(f"{tenant}/" if tenant else ""))
    newest = {}
    for name, ids in listed.items():
        complete = [backup_id for backup_id, names in ids.items() if MANIFEST in names]
        if complete:
            newest[name] = max(complete)  # ids begin with the time they were taken
    return newest


@dataclass(frozen=True)
class Stored:
    """A complete backup as the store lists it, in the shape request/retention reads."""

    id: str
    kind: str
    taken_at: datetime
    state: str = "complete"


def stored(listing: Listing) -> list:
    return [Stored(id=m.backup_id, kind=m.kind, taken_at=taken_at(m.backup_id)) for m in listing.complete]


def delete_backup(store, tenant: str, backup_id: str) -> int:
    """Remove a backup, manifest first; returns how many objects went."""
    check_backup_id(backup_id)
    keys = store.keys(f"{tenant}/{backup_id}/")
    manifest = manifest_key(tenant, backup_id)
    if manifest in keys:
        store.delete([manifest])
    store.delete([key for key in keys if key != manifest])
    return len(keys)


# --- reading a backup back --------------------------------------------------------------------------

def fetch_part(store, manifest: Manifest, part: str, directory: str, identity_text: str | None) -> str:
    """Download one part into directory, check its size and sha256 against the manifest, and
    decrypt it; returns the path of the plain file. BackupSetError when it does not match."""
    recorded = manifest.parts[part]
    downloaded = os.path.join(directory, os.path.basename(recorded.key))
    store.get_file(recorded.key, downloaded)
    size, digest = os.path.getsize(downloaded), backup.file_sha256(downloaded)
    if (size, digest) != (recorded.size, recorded.sha256):
        raise BackupSetError(f"{recorded.key} does not match its manifest (size {size}, sha256 {digest}; recorded "
                             f"{recorded.size}, {recorded.sha256}): the object was changed or damaged in the store. "
                             "Use another backup; nothing was restored.")
    if not manifest.encrypted_to:
        return downloaded
    if not identity_text:
        raise BackupSetError(f"backup {manifest.tenant}/{manifest.backup_id} is encrypted (to {manifest.encrypted_to}): "
                             "give the platform's backup identity (backup_encryption.identity)")
    plain = downloaded[:-len(encryption.SUFFIX)]
    encryption.decrypt_file(downloaded, plain, identity_text, recorded.key)
    os.unlink(downloaded)
    return plain


def verify_parts(paths: dict) -> dict:
    """Read each plain part back completely: {part: entries}. BackupError when one is unusable."""
    return {"database": backup.verify_backup(paths["database"]), "filestore": filestore.verify_archive(paths["filestore"])}
