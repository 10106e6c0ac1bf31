# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undelete in one call, for the controller: a removed tenant provisioned again as its request
names it (the controller fills in what the ledger recorded), then its final backup (the newest
complete one kept in the store, or the one named) restored into it without a safety backup.
playbooks/tenant_undelete.yml runs the same steps as tasks. Run again after a stop, it
provisions nothing new and restores the same backup."""

from __future__ import annotations

from .tenant import run_tenant
from .tenant_backup import run_tenant_backups
from .tenant_restore import run_tenant_restore

UNDELETE_ARGS = dict(backup=dict(type="str"))


def final_backup(listed):
    """The newest complete final backup kept in the store, from run_tenant_backups' result."""
    finals = [backup["id"] for backup in listed["backups"]
              if backup.get("kind") == "final" and backup.get("state") == "complete" and backup.get("in_store")]
    return finals[0] if finals else None


def run_tenant_undelete(params, check_mode, progress=None):
    """Returns (result, failure message or None)."""
    result = {"changed": False, "actions": [], "steps": [], "tenant": None, "restore": None}
    listed, failure = run_tenant_backups({**params, "verify": None})
    if failure:
        return result, failure
    backup = params.get("backup") or final_backup(listed)
    if not backup:
        return result, (f"tenant {params.get('name')} has no complete final backup in the store (purged after its grace "
                        "period, or removed without a backup): it cannot be undeleted")
    if progress:
        progress(f"undelete: provisioning again, then restoring final backup {backup}")
    provisioned, failure = run_tenant({**params, "state": "present", "backup": True}, check_mode, progress)
    result.update(changed=provisioned["changed"], actions=provisioned["actions"], tenant=provisioned.get("tenant"),
                  steps=provisioned["steps"])
    if failure:
        return result, failure
    restored, failure = run_tenant_restore({**params, "backup": backup, "safety_backup": False}, check_mode, progress)
    result.update(changed=result["changed"] or restored["changed"], actions=result["actions"] + restored["actions"],
                  steps=result["steps"] + restored["steps"], restore=restored.get("restore"))
    return result, failure
