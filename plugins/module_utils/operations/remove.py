# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decommission (state: absent): a verified backup first, pods gone, sessions ended, database and
role dropped, the namespace deleted and waited for; the ledger keeps the tenant as deleted."""

from __future__ import annotations

from ..crashpoints import reached
from ..engines import filestore, ledger, pg
from ..errors import ConflictError, SpecError
from ..manifests import tenant as manifests
from ..request import naming
from .final_backup import backup_database, backup_filestore, refuse_what_cannot_be_backed_up
from .steps import ensure_access, stop_pods


def remove(run, name, confirm, take_backup=True):
    """Decommission: verified backup, pods gone, sessions ended, database and role dropped,
    namespace deleted and waited for; the ledger keeps the tenant as deleted."""
    record = ledger.get_tenant(run.ledger, name)
    live_namespace = run.kube.get("v1", "Namespace", naming.namespace_for(name))
    namespace_exists = live_namespace is not None
    if (record is None or record.state == "deleted") and not namespace_exists:
        return record
    if confirm != name:
        raise SpecError("confirm", f"must equal the tenant name {name!r} to remove it (got {confirm!r}); nothing was changed")
    if run.platform.deletion_protection:
        raise ConflictError(f"deletion protection is on in the {run.platform.environment} environment "
                            "(odoo_saas_deletion_protection): turn it off for this run to remove a tenant; nothing was changed")
    if record is None:
        raise ConflictError(f"namespace {naming.namespace_for(name)} exists but the ledger has no tenant {name}: "
                            "remove the namespace by hand after checking what it holds")
    refuse_what_cannot_be_backed_up(record, take_backup)
    # A namespace already terminating (a removal killed while waiting for it, or a delete by
    # hand) has lost its RoleBinding, or soon will: nothing inside it is read or changed.
    terminating = namespace_exists and bool(live_namespace["metadata"].get("deletionTimestamp"))
    if namespace_exists and not terminating:
        ensure_access(run, record.namespace, [manifests.automation_binding(record, run.platform)])
    # Found before anything changes: a filestore this controller cannot read stops the removal here.
    store = None
    if take_backup and namespace_exists and not terminating:
        store = filestore.volume_directory(run.kube, record.namespace, manifests.FILESTORE_CLAIM)
    elif take_backup and terminating and not (record.filestore_backup or {}).get("location"):
        run.warn(f"namespace {record.namespace} was already terminating: its filestore could not be archived")
    if ledger.set_state(run.ledger, name, "deleting", run.check_mode):
        run.record_ledger(f"tenant {name} is deleting")
    reached("after-deleting-state")
    # Pods first: the backup must hold every write Odoo made, to the database and the filestore.
    if terminating:
        run.say(f"namespace {record.namespace} is terminating: Kubernetes is removing its pods")
    elif namespace_exists:
        stop_pods(run, record)
    reached("after-pods-stopped")
    saved = backup_database(run, record) if take_backup else None
    if take_backup:
        backup_filestore(run, ledger.get_tenant(run.ledger, name) or record, store)
    reached("after-backup")
    if record.db_strategy == "shared" and record.server:
        run.say(f"dropping database {record.database} and its role on {record.server}")
        conn = run.connections.server_connection(record.server)
        statements = pg.drop_tenant_database(conn, naming.role_for(record.name), record.database, execute=not run.check_mode)
        run.record_sql(record.server, statements, executed=not run.check_mode)
    reached("after-drop")
    change = run.kube.delete("v1", "Namespace", record.namespace, check_mode=run.check_mode)
    run.record_changes([change])
    if change.changed and not run.check_mode:
        run.say(f"waiting for namespace {record.namespace} to finish terminating")
        run.kube.wait_gone("v1", "Namespace", record.namespace, timeout=run.wait_timeout, progress=run.say)
    reached("after-namespace-deleted")
    details = {"location": saved.path, "sha256": saved.sha256, "size": saved.size} if saved else {}
    if ledger.set_state(run.ledger, name, "deleted", run.check_mode, **details):
        run.record_ledger(f"tenant {name} is deleted" + (f"; backup {saved.path}" if saved else ""))
    return ledger.get_tenant(run.ledger, name)


def decommission(run, request):
    return remove(run, request.name, request.confirm, take_backup=request.backup)
