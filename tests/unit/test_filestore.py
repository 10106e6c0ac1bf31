"""Filestore archives: written whole or not at all, read back, and the volume located (or
refused) from the claim's PersistentVolume."""

from __future__ import annotations

import os
import tarfile
from datetime import datetime, timezone

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup import BackupError
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.filestore import (
    FilestoreUnreachable, archive_filestore, verify_archive, volume_directory,
)

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=timezone.utc)


def _filestore(root):
    store = root / "volume" / "filestore" / "odoo_acme" / "ab"
    store.mkdir(parents=True)
    (store / "abcdef").write_bytes(os.urandom(4096))
    (root / "volume" / "sessions").mkdir()
    return root / "volume"


def test_the_archive_holds_every_file_and_is_read_back(tmp_path):
    source = _filestore(tmp_path)
    saved = archive_filestore(str(source), str(tmp_path / "backups"), "odoo_acme", label="acme", now=NOW)
    assert os.path.basename(saved.path) == "acme-odoo_acme-20261127T120000Z.filestore.tar.gz"
    assert sorted(os.listdir(tmp_path / "backups")) == [".acme-odoo_acme.lock", os.path.basename(saved.path)]
    with tarfile.open(saved.path) as archive:
        names = archive.getnames()
    assert "filestore/filestore/odoo_acme/ab/abcdef" in names and "filestore/sessions" in names
    assert verify_archive(saved.path) == saved.entries == len(names)
    assert oct(os.stat(saved.path).st_mode & 0o777) == "0o600"


def test_a_truncated_archive_is_refused(tmp_path):
    source = _filestore(tmp_path)
    saved = archive_filestore(str(source), str(tmp_path / "backups"), "odoo_acme", label="acme", now=NOW)
    with open(saved.path, "r+b") as handle:
        handle.truncate(os.path.getsize(saved.path) // 2)
    with pytest.raises(BackupError, match="unreadable"):
        verify_archive(saved.path)


def test_a_dead_runs_temporary_is_removed_by_the_next_run(tmp_path):
    source = _filestore(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / ".acme-odoo_acme.filestore.partial-x1y2").write_bytes(b"half")
    archive_filestore(str(source), str(backups), "odoo_acme", label="acme", now=NOW)
    assert not [name for name in os.listdir(backups) if ".partial-" in name]


class _Kube:
    """The two reads volume_directory makes, answered from dicts."""

    def __init__(self, objects):
        self.objects = objects

    def get(self, api_version, kind, name, namespace=None):
        return self.objects.get((kind, name))


def test_a_hostpath_volume_is_found_and_other_volumes_are_refused(tmp_path):
    claim = {"spec": {"volumeName": "pv-1"}}
    assert volume_directory(_Kube({}), "tenant-acme", "odoo-filestore") is None
    assert volume_directory(_Kube({("PersistentVolumeClaim", "odoo-filestore"): {"spec": {}}}),
                            "tenant-acme", "odoo-filestore") is None
    found = _Kube({("PersistentVolumeClaim", "odoo-filestore"): claim,
                   ("PersistentVolume", "pv-1"): {"spec": {"hostPath": {"path": str(tmp_path)}}}})
    assert volume_directory(found, "tenant-acme", "odoo-filestore") == str(tmp_path)
    csi = _Kube({("PersistentVolumeClaim", "odoo-filestore"): claim,
                 ("PersistentVolume", "pv-1"): {"spec": {"csi": {"driver": "x"}}}})
    with pytest.raises(FilestoreUnreachable, match="not a hostPath volume.*backup: false"):
        volume_directory(csi, "tenant-acme", "odoo-filestore")
    elsewhere = _Kube({("PersistentVolumeClaim", "odoo-filestore"): claim,
                       ("PersistentVolume", "pv-1"): {"spec": {"hostPath": {"path": str(tmp_path / "absent")}}}})
    with pytest.raises(FilestoreUnreachable, match="not readable on this controller"):
        volume_directory(elsewhere, "tenant-acme", "odoo-filestore")
