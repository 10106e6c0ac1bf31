"""The backup layout in a store (engines/backup_set) on the directory store, and the age
encryption of parts (engines/encryption): a backup is listed only once its manifest is there,
a delete removes the manifest first, a part that does not match its manifest is refused, and
an encrypted part opens only with its identity."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_set, encryption
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup import file_sha256
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import (
    DirectoryStore, ObjectStoreError, Target, open_store,
)


@pytest.fixture
def store(tmp_path):
    return open_store(Target(kind="directory", path=str(tmp_path), prefix="env/prod"))


def _manifest(tenant, backup_id, parts, encrypted_to=None):
    return backup_set.Manifest(tenant=tenant, backup_id=backup_id, kind=backup_set.check_backup_id(backup_id)["kind"],
                               plan="small", odoo_version="18.0", database="db", started_at="t0", completed_at="t1",
                               encrypted_to=encrypted_to, parts=parts, modules=("base",))


def _put_backup(store, tmp_path, tenant, backup_id, manifest=True):
    parts = {}
    for part in backup_set.PART_FILES:
        local = tmp_path / f"{backup_id}-{part}"
        local.write_bytes(os.urandom(1000))
        key = backup_set.part_key(tenant, backup_id, part, False)
        store.put_file(key, str(local))
        parts[part] = backup_set.Part(key=key, size=1000, sha256=file_sha256(str(local)), entries=1)
    made = _manifest(tenant, backup_id, parts)
    if manifest:
        store.put_bytes(backup_set.manifest_key(tenant, backup_id), made.to_json())
    return made


def test_backup_ids_sort_by_time_and_name_their_kind():
    early = backup_set.new_backup_id("scheduled", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    late = backup_set.new_backup_id("manual", datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc))
    assert early.startswith("20260102-030405-scheduled-") and early < late
    assert backup_set.taken_at(late) == datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)
    assert backup_set.check_backup_id(late)["kind"] == "manual"
    with pytest.raises(backup_set.BackupSetError, match="backup_id: 'latest' is not a backup id"):
        backup_set.check_backup_id("latest")
    with pytest.raises(backup_set.BackupSetError, match="kind: 'hourly'"):
        backup_set.new_backup_id("hourly")


def test_only_a_backup_with_its_manifest_is_listed(store, tmp_path):
    done = _put_backup(store, tmp_path, "acme", backup_set.new_backup_id("manual"))
    half = backup_set.new_backup_id("scheduled")
    _put_backup(store, tmp_path, "acme", half, manifest=False)
    _put_backup(store, tmp_path, "acme-two", backup_set.new_backup_id("manual"))
    listing = backup_set.list_backups(store, "acme")
    assert listing.complete == (done,)
    assert listing.incomplete == (half,)
    assert (tmp_path / "env" / "prod" / "acme" / done.backup_id / "manifest.json").is_file()


def test_a_delete_takes_the_manifest_first_and_a_half_done_delete_is_invisible(store, tmp_path):
    made = _put_backup(store, tmp_path, "acme", backup_set.new_backup_id("manual"))
    removed = []
    real_delete = store.delete

    def dying_delete(keys):
        removed.append(list(keys))
        real_delete(keys)
        if len(removed) == 1:
            raise ObjectStoreError("the store went away")

    store.delete = dying_delete
    with pytest.raises(ObjectStoreError):
        backup_set.delete_backup(store, "acme", made.backup_id)
    assert removed == [[backup_set.manifest_key("acme", made.backup_id)]]
    assert backup_set.list_backups(store, "acme").complete == ()
    store.delete = real_delete
    assert backup_set.delete_backup(store, "acme", made.backup_id) == 2
    assert store.keys("acme/") == []


def test_a_part_that_does_not_match_its_manifest_is_refused(store, tmp_path):
    made = _put_backup(store, tmp_path, "acme", backup_set.new_backup_id("manual"))
    key = made.parts["database"].key
    data = bytearray(store.get_bytes(key))
    data[10] ^= 1
    store.put_bytes(key, bytes(data))
    (tmp_path / "fetch").mkdir()
    assert backup_set.fetch_part(store, made, "filestore", str(tmp_path / "fetch"), None)
    with pytest.raises(backup_set.BackupSetError, match="does not match its manifest"):
        backup_set.fetch_part(store, made, "database", str(tmp_path / "fetch"), None)


def test_a_manifest_that_is_damaged_or_of_another_format_is_refused(store, tmp_path):
    made = _put_backup(store, tmp_path, "acme", backup_set.new_backup_id("manual"))
    key = backup_set.manifest_key("acme", made.backup_id)
    store.put_bytes(key, b"{not json")
    with pytest.raises(backup_set.BackupSetError, match="the manifest is unreadable"):
        backup_set.read_manifest(store, "acme", made.backup_id)
    store.put_bytes(key, made.to_json().replace(b'"format": 1', b'"format": 9'))
    with pytest.raises(backup_set.BackupSetError, match="manifest format 9"):
        backup_set.read_manifest(store, "acme", made.backup_id)
    assert backup_set.Manifest.from_json(made.to_json(), "x") == made


def test_the_directory_store_never_lets_a_key_climb_out_and_hides_unfinished_puts(store, tmp_path):
    with pytest.raises(ObjectStoreError, match="never climb out"):
        store.put_bytes("../../etc/passwd", b"x")
    (tmp_path / "env" / "prod" / "acme").mkdir(parents=True)
    (tmp_path / "env" / "prod" / "acme" / f".manifest.json{DirectoryStore.PARTIAL}abc").write_bytes(b"half")
    assert store.keys("acme/") == []
    assert store.size("acme/none") is None


def test_a_directory_target_must_be_an_absolute_writable_directory(tmp_path):
    with pytest.raises(ObjectStoreError, match="backup_target.path: 'relative' is not an absolute"):
        open_store(Target(kind="directory", path="relative"))
    with pytest.raises(ObjectStoreError, match="is not a directory here"):
        open_store(Target(kind="directory", path=str(tmp_path / "missing"))).check()
    with pytest.raises(ObjectStoreError, match="backup_target.kind: 'ftp'"):
        open_store(Target(kind="ftp"))


def test_encrypted_parts_open_with_their_identity_only(tmp_path):
    identity = encryption.new_identity()
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(300_000) + b"secret ledger")
    encryption.encrypt_file(str(plain), str(tmp_path / "sealed"), encryption.public_of(identity))
    sealed = (tmp_path / "sealed").read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1") and b"secret ledger" not in sealed
    encryption.decrypt_file(str(tmp_path / "sealed"), str(tmp_path / "back"), identity, "part")
    assert (tmp_path / "back").read_bytes() == plain.read_bytes()

    with pytest.raises(encryption.EncryptionError, match="encrypted to another key") as wrong:
        encryption.decrypt_file(str(tmp_path / "sealed"), str(tmp_path / "wrong"), encryption.new_identity(), "part")
    assert not (tmp_path / "wrong").exists() and identity not in str(wrong.value)

    damaged = bytearray(sealed)
    damaged[len(damaged) // 2] ^= 1
    (tmp_path / "damaged").write_bytes(bytes(damaged))
    with pytest.raises(encryption.EncryptionError, match="it is damaged"):
        encryption.decrypt_file(str(tmp_path / "damaged"), str(tmp_path / "out"), identity, "part")
    assert not (tmp_path / "out").exists()


def test_malformed_keys_name_their_field_and_never_echo_the_key():
    with pytest.raises(encryption.EncryptionError, match="backup_encryption.recipient: not an age public key"):
        encryption.recipient("age1nope")
    secret_looking = "AGE-SECRET-KEY-1NOTAVALIDKEY"
    with pytest.raises(encryption.EncryptionError, match="backup_encryption.identity") as error:
        encryption.identity(secret_looking)
    assert secret_looking not in str(error.value)
