# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decommission (state: absent): a verified backup first, pods gone, sessions ended, database and
role dropped, the namespace deleted and waited for; the ledger keeps the tenant as deleted.

With a backup target configured (backup_target), the final backup is taken in the cluster by a
backup Job (operations/backups), after Odoo's pods stopped and before a dedicated server is
scaled down, so it works from any controller and for dedicated tenants; the store is checked
before anything changes. Without one, it is written on the controller (operations/final_backup),
which must then be able to read the filestore volume."""

from __future__ import annotations

from ..crashpoints import reached
from ..engines import backup, filestore, ledger, pg
from ..errors import ConflictError, SpecError
from ..manifests import tenant as manifests
from ..request import naming
from ..manifests.backup_job import BACKUP_SCHEDULE
from ..manifests.base import NAME_LABEL, ODOO
from .backups import final_backups_of_this_removal, open_target, take_backup as take_backup_in_cluster
from .final_backup import backup_database, backup_filestore, refuse_what_cannot_be_backed_up
from .steps import ensure_access, stop_pods

ODOO_PODS = f"{NAME_LABEL}={ODOO}"


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
    in_cluster = take_backup and run.platform.backups is not None
    if in_cluster:
        open_target(run)  # an unreachable store, or keys it refuses, stop the removal before any change
    else:
        refuse_what_cannot_be_backed_up(record, take_backup)
    # A namespace already terminating (a removal killed while waiting for it, or a delete by
    # hand) has lost its RoleBinding, or soon will: nothing inside it is read or changed.
    terminating = namespace_exists and bool(live_namespace["metadata"].get("deletionTimestamp"))
    if namespace_exists and not terminating:
        ensure_access(run, record.namespace, [manifests.automation_binding(record, run.platform)])
    # Found before anything changes: a filestore this controller cannot read stops the removal here.
    store = None
    if take_backup and not in_cluster and namespace_exists and not terminating:
        store = filestore.volume_directory(run.kube, record.namespace, manifests.FILESTORE_CLAIM)
    elif take_backup and not in_cluster and terminating and not (record.filestore_backup or {}).get("location"):
        run.warn(f"namespace {record.namespace} was already terminating: its filestore could not be archived")
    if ledger.set_state(run.ledger, name, "deleting", run.check_mode):
        run.record_ledger(f"tenant {name} is deleting")
    reached("after-deleting-state")
    if namespace_exists and not terminating:  # no scheduled backup starts while the tenant goes
        run.record_changes([run.kube.delete("batch/v1", "CronJob", BACKUP_SCHEDULE, record.namespace,
                                            check_mode=run.check_mode)])
    # Pods first: the backup must hold every write Odoo made, to the database and the filestore.
    if terminating:
        run.say(f"namespace {record.namespace} is terminating: Kubernetes is removing its pods")
    elif namespace_exists and in_cluster:
        stop_pods(run, record, kinds=("Deployment",), label_selector=ODOO_PODS)  # its database serves the Job
    elif namespace_exists:
        stop_pods(run, record)
    reached("after-pods-stopped")
    saved = None
    if in_cluster:
        saved = _final_backup_in_cluster(run, record, terminating)
        if namespace_exists and not terminating:
            stop_pods(run, record)
    elif take_backup:
        saved = backup_database(run, record)
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


def _final_backup_in_cluster(run, record, terminating):
    """The removal's final backup as the tenant row records it (BackupResult), or None. In a
    namespace already terminating no Job can run: only a final backup this removal completed
    before counts."""
    if terminating and not any(b.state == "complete" for b in final_backups_of_this_removal(run, record)):
        run.warn(f"namespace {record.namespace} was already terminating and no final backup of this removal was "
                 "complete: none could be taken")
        return None
    taken = take_backup_in_cluster(run, record, kind="final")
    if taken is None:  # check mode
        return None
    return backup.BackupResult(path=f"{taken.target}/{record.name}/{taken.id}", size=taken.size or 0, entries=0,
                               sha256=(taken.parts or {}).get("database", {}).get("sha256", ""))


def decommission(run, request):
    return remove(run, request.name, request.confirm, take_backup=request.backup)
