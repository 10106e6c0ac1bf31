# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An on-demand backup of a living tenant, taken in the cluster by a Job (manifests/backup_job)
running programs/backup_job, recorded in the ledger's backups table.

Order: every check that can refuse first (a target configured, the store reachable with valid
keys, a tenant whose database is up), then the ledger row `running`, then the Job and what it
needs (target Secret, NetworkPolicy), the wait, and the row `complete` from the manifest the
store holds, or `failed` with the program's own message. A rerun after a kill finds the row
still running and the same Job, and finishes that backup rather than starting another.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from ..engines import backup_records, backup_set
from ..engines.kube import KubeError
from ..engines.object_store import Target, open_store
from ..errors import SaasError
from ..manifests import backup_job as jobs
from ..manifests.base import DEDICATED, POSTGRES_PORT
from ..request import retention
from ..request.plans import BackupPolicy

BACKUP_STATES = ("active", "suspended")


def store_target(settings):
    """The engines' Target for the store, as the controller reaches it."""
    target = settings.target
    return Target(kind=target.kind, endpoint=target.endpoint, bucket=target.bucket, prefix=target.prefix,
                  region=target.region, access_key=settings.access_key, secret_key=settings.secret_key)


def open_target(run):
    """The platform's store, checked (reachable, keys valid, bucket there); SaasError otherwise."""
    settings = run.platform.backups
    if settings is None:
        raise SaasError("backup_target is not set for this environment: set odoo_saas_backup_target (an S3-compatible "
                        "store) and odoo_saas_backup_image in the inventory; nothing was changed")
    if settings.target.kind != "s3":
        raise SaasError("backup_target.kind directory is read by Jobs only and this module reads the store from the "
                        "controller: use an S3-compatible target; nothing was changed")
    store = open_store(store_target(settings))
    store.check()
    return settings, store


def _refuse_unless_backable(record):
    if record is None:
        raise SaasError("name: no such tenant in the ledger; nothing was changed")
    if record.state not in BACKUP_STATES:
        raise SaasError(f"tenant {record.name} is {record.state}: only an active or suspended tenant is backed up this "
                        "way; nothing was changed")
    if record.db_strategy == DEDICATED and record.state == "suspended":
        raise SaasError(f"tenant {record.name} is suspended and its dedicated PostgreSQL is scaled to zero: resume it "
                        "(state: present), back it up, then suspend it again; nothing was changed")


def backup_job_of(record, settings, backup_id):
    return jobs.BackupJob(name=record.name, namespace=record.namespace, command="backup", backup_id=backup_id,
                          database=record.database, plan=record.plan, odoo_version=record.odoo_version,
                          image=settings.image, target=settings.target, encrypt_to=settings.recipient)


def job_objects(run, record, settings, job, identity=""):
    dedicated = record.db_strategy == DEDICATED
    return [jobs.target_secret(job, settings.access_key, settings.secret_key, identity),
            *jobs.network_policies(job, record.namespace if dedicated else record.server, POSTGRES_PORT, dedicated,
                                   run.platform.closed_ranges),
            jobs.backup_job(job)]


def program_result(run, job, newest_only=False):
    """The program's last line (its JSON result, a dict), which the kubelet keeps as the
    container's termination message (terminationMessagePolicy FallbackToLogsOnError); None
    when no pod has ended with one. `newest_only`: the Job's newest pod's, or None while that
    pod has not ended (an older pod's word is stale once a retry runs)."""
    pods = run.kube.list("v1", "Pod", job.namespace, label_selector=f"job-name={job.job_name}")
    pods = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", reverse=True)
    for pod in pods[:1] if newest_only else pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            message = ((status.get("state") or {}).get("terminated") or {}).get("message") or ""
            for line in reversed(message.strip().splitlines()):
                try:
                    found = json.loads(line)
                except ValueError:
                    continue
                if isinstance(found, dict):
                    return found
    return None


def _program_message(run, job):
    return (program_result(run, job) or {}).get("msg")


def backups_since(run, record, kind, since):
    """The tenant's running or complete backups of `kind` started since `since` (None: none)."""
    return [b for b in backup_records.list_for(run.ledger, record.name, ("running", "complete"))
            if b.kind == kind and since is not None and b.started_at >= since]


def final_backups_of_this_removal(run, record):
    """The final backups of the tenant's current removal (not of an earlier life of its name)."""
    return backups_since(run, record, "final", backup_records.removal_started_at(run.ledger, record.name))


EXPIRING_KINDS = retention.EXEMPT_KINDS


def _set_expiry(run, record, backup_id, completed_at):
    """A final backup (soft delete: the tenant can be undeleted from it) and a restore's safety
    backup are kept for the plan's keep_final_days; then backups_purge removes them."""
    plan = run.platform.plans.get(record.plan)
    days = (plan.backups if plan else BackupPolicy()).keep_final_days
    if backup_records.set_expiry(run.ledger, record.name, backup_id, completed_at + timedelta(days=days)):
        run.record_ledger(f"backup {backup_id} kept until {(completed_at + timedelta(days=days)).date()}")


def take_backup(run, record, kind="manual", since=None):
    """Back the tenant up now; returns its BackupRecord (None in check mode). A final backup
    (kind final, for a removal that has recorded the tenant deleting) is taken once per removal,
    and one of another kind once since `since` when that is given (a restore's safety backup):
    a rerun reuses the one that completed."""
    if kind == "final":
        since = backup_records.removal_started_at(run.ledger, record.name)
    else:
        _refuse_unless_backable(record)
    if kind == "final" or since is not None:
        earlier = backups_since(run, record, kind, since)
        done = [b for b in earlier if b.state == "complete"]
        if done:
            run.say(f"reusing the {kind} backup {done[0].id}, taken by an earlier run")
            if kind in EXPIRING_KINDS and not run.check_mode:
                _set_expiry(run, record, done[0].id, done[0].completed_at or done[0].started_at)
            return done[0]
        running = earlier
    else:
        running = [b for b in backup_records.list_for(run.ledger, record.name, ("running",)) if b.kind == kind]
    settings, store = open_target(run)
    backup_id = running[0].id if running else backup_set.new_backup_id(kind)
    job = backup_job_of(record, settings, backup_id)
    if run.check_mode:
        run.actions.append(f"backup {record.name} as {backup_id} to {settings.target.describe()} (check mode)")
        run.changed = True
        return None
    if running:
        run.say(f"finishing backup {backup_id}, which an earlier run started")
    else:
        backup_records.start(run.ledger, record.name, backup_id, kind, settings.target.describe(),
                             encrypted_to=settings.recipient or None)
        run.record_ledger(f"backup {backup_id} of {record.name} running")
    run.record_changes(run.kube.apply_all(job_objects(run, record, settings, job)))
    run.say(f"backup Job {job.namespace}/{job.job_name} created; waiting for it")
    try:
        run.kube.wait_job_complete(job.namespace, job.job_name, timeout=run.wait_timeout, progress=run.say)
    except KubeError as error:
        cause = _program_message(run, job) or str(error)
        if backup_set.read_manifest(store, record.name, backup_id) is None:
            backup_records.fail(run.ledger, record.name, backup_id, cause)
            raise SaasError(f"backup {backup_id} of tenant {record.name} failed: {cause}") from None
    manifest = backup_set.read_manifest(store, record.name, backup_id)
    if manifest is None:
        cause = (_program_message(run, job) or "the Job finished, but the store holds no manifest of this backup "
                 "(was its program run?)")
        backup_records.fail(run.ledger, record.name, backup_id, cause)
        raise SaasError(f"backup {backup_id} of tenant {record.name} failed: {cause}")
    backup_records.complete(run.ledger, record.name, manifest)
    if kind in EXPIRING_KINDS:
        _set_expiry(run, record, backup_id, datetime.fromisoformat(manifest.completed_at))
    run.changed = True
    run.actions.append(f"backup {record.name} -> {settings.target.describe()}/{record.name}/{backup_id} "
                       f"({manifest.size} bytes, database and filestore verified)")
    return backup_records.get(run.ledger, record.name, backup_id)


def sync_from_store(run, record, settings, store):
    """The ledger brought up to what the store holds: the scheduled backups the CronJob's Jobs
    wrote (they have no ledger access) recorded complete, and rows of this target whose backup
    the store no longer holds (the Jobs' own retention removed it) marked pruned."""
    target = settings.target.describe()
    listing = backup_set.list_backups(store, record.name)
    held = {manifest.backup_id: manifest for manifest in listing.complete}
    rows = {row.id: row for row in backup_records.list_for(run.ledger, record.name)}
    new = [manifest for backup_id, manifest in held.items() if backup_id not in rows]
    gone = [row.id for row in rows.values() if row.state == "complete" and row.target == target
            and backup_set.BACKUP_ID.match(row.id) and row.id not in held]
    for manifest in new:
        run.actions.append(f"ledger: recorded backup {record.name}/{manifest.backup_id} ({manifest.kind}) from the store"
                           + (" (check mode)" if run.check_mode else ""))
        if not run.check_mode:
            backup_records.start(run.ledger, record.name, manifest.backup_id, manifest.kind, target,
                                 encrypted_to=manifest.encrypted_to, started_at=backup_set.taken_at(manifest.backup_id))
            backup_records.complete(run.ledger, record.name, manifest)
    if gone:
        run.actions.append(f"ledger: marked pruned {', '.join(sorted(gone))}, which the store no longer holds"
                           + (" (check mode)" if run.check_mode else ""))
        if not run.check_mode:
            backup_records.mark_pruned(run.ledger, record.name, gone)
    if new or gone:
        run.changed = True


def prune(run, record):
    """Apply the tenant's plan retention (request/retention) to its backups: each pruned one
    leaves the store (manifest first, so it is invisible at once), then its row says pruned. A
    rerun after a kill removes what is left of the same choice, never more. Returns the ids."""
    plan = run.platform.plans.get(record.plan)
    if plan is None:
        raise SaasError(f"tenant {record.name} is on plan {record.plan}, which the inventory no longer defines: its "
                        "retention is unknown, so nothing is pruned")
    settings, store = open_target(run)
    sync_from_store(run, record, settings, store)
    # Rows carried over from a tenant row (migration 4) are files on a controller, not in the store.
    in_store = [b for b in backup_records.list_for(run.ledger, record.name, ("complete", "failed"))
                if backup_set.BACKUP_ID.match(b.id)]
    choice = retention.choose(in_store, plan.backups)
    for backup_id in choice.prune:
        if run.check_mode:
            run.actions.append(f"prune backup {record.name}/{backup_id} (check mode)")
            continue
        removed = backup_set.delete_backup(store, record.name, backup_id)
        backup_records.mark_pruned(run.ledger, record.name, [backup_id])
        run.actions.append(f"pruned backup {record.name}/{backup_id} ({removed} objects)")
    if choice.prune:
        run.changed = True
    return list(choice.prune)


def purge_expired(run, now=None):
    """Remove from the store, and mark pruned, every backup whose grace period (its expires_at)
    has passed: the final backups of removed tenants (the end of a soft delete) and restores'
    safety backups. Manifest first, so a purge killed half way
    leaves each backup whole or invisible, and the next purge finishes it. Returns what went."""
    settings, store = open_target(run)
    target = settings.target.describe()
    purged = []
    for backup in backup_records.expired(run.ledger, now or datetime.now(timezone.utc)):
        if backup.target != target:
            run.warn(f"{backup.tenant}/{backup.id} expired but lives in {backup.target}, not in {target}: purge it "
                     "with that environment's target")
            continue
        entry = {"tenant": backup.tenant, "id": backup.id, "kind": backup.kind, "size": backup.size,
                 "expired_at": backup.expires_at.isoformat()}
        if run.check_mode:
            run.actions.append(f"purge {backup.tenant}/{backup.id} (expired {backup.expires_at.date()}) (check mode)")
        else:
            removed = backup_set.delete_backup(store, backup.tenant, backup.id)
            backup_records.mark_pruned(run.ledger, backup.tenant, [backup.id])
            run.actions.append(f"purged {backup.tenant}/{backup.id} (expired {backup.expires_at.date()}, {removed} "
                               "objects)")
        purged.append(entry)
    if purged:
        run.changed = True
    return purged
