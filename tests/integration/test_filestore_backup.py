"""A decommission's backup holds the filestore too (ODOO.md: a backup is the dump plus the
filestore), taken after the pods stopped, verified, recorded in the ledger, and taken once
even when the run is killed right after writing it."""

from __future__ import annotations

import os
import tarfile

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import filestore, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE

from . import tenants

ATTACHMENT = ("filestore", "{database}", "3f", "3f786850e387550fdab836ed7e6dc881de23001b")


def _volume_directory(core, namespace):
    claim = core.read_namespaced_persistent_volume_claim("odoo-filestore", namespace)
    return core.read_persistent_volume(claim.spec.volume_name).spec.host_path.path


def _write_attachment(core, record):
    """What Odoo would have written: one attachment under filestore/<database>/."""
    path = os.path.join(_volume_directory(core, record["namespace"]),
                        *[part.format(database=record["database"]["name"]) for part in ATTACHMENT])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"%PDF-1.7 an invoice\n")
    return "/".join(["filestore", *[part.format(database=record["database"]["name"]) for part in ATTACHMENT]])


def _provisioned(ledger_db, backups, core):
    name = tenants.unique("fs")
    result, failure = tenants.tenant(tenants.params(ledger_db, backups, name=name, plan="small"))
    assert failure is None, failure
    member = _write_attachment(core, result["tenant"])
    return name, member


def _archives(backups):
    return sorted(p for p in os.listdir(backups) if p.endswith(filestore.SUFFIX))


def test_the_decommission_backup_holds_the_filestore(core, ledger_db, tmp_path):
    backups = tmp_path / "backups"
    name, member = _provisioned(ledger_db, backups, core)
    removal = tenants.params(ledger_db, backups, name=name, state="absent", confirm=name)

    planned, failure = tenants.tenant(removal, check_mode=True)
    assert failure is None, failure
    assert any(action.startswith("archive the filestore") for action in planned["actions"])
    assert not backups.exists() or _archives(backups) == []

    done, failure = tenants.tenant(removal)
    assert failure is None, failure
    recorded = done["tenant"]["backup"]["filestore"]
    assert _archives(backups) == [os.path.basename(recorded["location"])]
    with tarfile.open(recorded["location"]) as archive:
        assert archive.extractfile(member).read() == b"%PDF-1.7 an invoice\n"
    assert filestore.existing_archive(recorded["location"]).sha256 == recorded["sha256"]
    steps = done["steps"]
    stopped = next(i for i, step in enumerate(steps) if "waiting for the pods" in step)
    archived = next(i for i, step in enumerate(steps) if "archiving the filestore" in step)
    assert stopped < archived, "the filestore was archived while Odoo could still write to it"
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, name).filestore_backup == recorded


def test_a_run_killed_after_the_archive_is_written_records_that_archive(core, ledger_db, tmp_path):
    backups = tmp_path / "backups"
    name, _member = _provisioned(ledger_db, backups, core)
    removal = tenants.params(ledger_db, backups, name=name, state="absent", confirm=name)
    child = tenants.tenant_in_subprocess(removal, env=dict(os.environ, **{VARIABLE: "filestore:archived"}))
    assert child.returncode == -9, child.stderr[-2000:]
    written = _archives(backups)
    assert len(written) == 1

    done, failure = tenants.tenant(removal)
    assert failure is None, failure
    assert _archives(backups) == written, "a second archive was taken"
    assert os.path.basename(done["tenant"]["backup"]["filestore"]["location"]) == written[0]
    assert done["tenant"]["backup"]["filestore"]["sha256"]
