# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a tenant from a backup (its own, or another tenant's: a restore into a new tenant),
or load an Odoo database-manager export into it: what the tenant's database and filestore hold
is replaced, by a Job in its namespace (programs/backup_job, ODOO_SAAS_REPLACE_RUN).

Order: every check that can refuse first (the tenant active or suspended, the backup complete
in the store and of the tenant's Odoo major version, the identity for an encrypted one, the
store reachable with valid keys). Then the ledger event restore-started (the run's id, what
it restores, the replicas Odoo runs with), Odoo stopped (its Deployments; a dedicated
PostgreSQL stays up), the safety backup (kind pre-restore) unless waived, the restore Job,
the identity taken out of the namespace again, Odoo back at its replicas, restore-finished.

A rerun after a kill finds the unfinished run (engines/restore_records) and goes on with it:
the same Job, the same safety backup. A Job that fails before the database is replaced (a
damaged part, a refused export) leaves the data as it was: Odoo is brought back and the run
ends failed. One that fails after it keeps Odoo stopped: running it again finishes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from ..crashpoints import reached
from ..engines import backup_set, restore_records
from ..engines.kube import MISSING, KubeError
from ..errors import SaasError
from ..manifests import backup_job as jobs
from ..manifests.backup_job import BACKUP_SCHEDULE
from ..manifests.base import DEDICATED, NAME_LABEL, ODOO
from . import backups
from .steps import stop_pods

ODOO_PODS = f"{NAME_LABEL}={ODOO}"


@dataclass(frozen=True)
class RestoreSource:
    """What is restored: a backup of `tenant`, or the Odoo export at `import_key` in the store."""

    tenant: str = ""
    backup_id: str = ""
    import_key: str = ""

    def as_dict(self):
        return {"import": self.import_key} if self.import_key else {"tenant": self.tenant, "backup": self.backup_id}

    def describe(self):
        return f"the Odoo export {self.import_key}" if self.import_key else f"backup {self.tenant}/{self.backup_id}"


def _major(version):
    return (version or "").split(".")[0]


def check_source(run, record, source, store, settings):
    """Refuse, before anything is changed, what cannot be restored into this tenant."""
    if record is None:
        raise SaasError("name: no such tenant in the ledger: provision it first (a restore into a new tenant fills a "
                        "tenant that exists); nothing was changed")
    if record.state not in backups.BACKUP_STATES:
        raise SaasError(f"tenant {record.name} is {record.state}: only an active or suspended tenant is restored into; "
                        "nothing was changed")
    if record.db_strategy == DEDICATED and record.state == "suspended":
        raise SaasError(f"tenant {record.name} is suspended and its dedicated PostgreSQL is scaled to zero: resume it "
                        "(state: present) and restore it then; nothing was changed")
    where = settings.target.describe()
    if source.import_key:
        if store.size(source.import_key) is None:
            raise SaasError(f"odoo_export: {where} holds no {source.import_key}: upload the export there first; nothing was "
                            "changed")
        return None
    manifest = backup_set.read_manifest(store, source.tenant, source.backup_id)
    if manifest is None:
        raise SaasError(f"backup: tenant {source.tenant} has no complete backup {source.backup_id} in {where}: list "
                        "its backups with tenant_backups; nothing was changed")
    if manifest.odoo_version and _major(manifest.odoo_version) != _major(record.odoo_version):
        raise SaasError(f"backup: {source.describe()} is of Odoo {manifest.odoo_version} and tenant {record.name} runs "
                        f"{record.odoo_version}: restore it into a tenant of that version (an upgrade is not a "
                        "restore); nothing was changed")
    if manifest.encrypted_to and not settings.identity:
        raise SaasError(f"backup: {source.describe()} is encrypted and backup_encryption.identity is not set: give "
                        "the platform's identity (the secret key); nothing was changed")
    return manifest


def _odoo_replicas(run, record):
    return {obj["metadata"]["name"]: (obj.get("spec") or {}).get("replicas", 0)
            for obj in run.kube.list("apps/v1", "Deployment", record.namespace)}


def _scale_back(run, record, replicas):
    for name, count in sorted(replicas.items()):
        live = run.kube.get("apps/v1", "Deployment", name, record.namespace)
        if live is None or count == (live.get("spec") or {}).get("replicas", 0):
            continue
        run.changed = True
        run.actions.append(f"scaled Deployment {record.namespace}/{name} back to {count}")
        if not run.check_mode:
            run.kube.request("PATCH", f"/apis/apps/v1/namespaces/{record.namespace}/deployments/{name}/scale",
                             body={"spec": {"replicas": count}}, content_type="application/merge-patch+json")
    if run.check_mode:
        return
    for name, count in sorted(replicas.items()):
        if count:
            run.kube.wait_rollout(record.namespace, "Deployment", name, timeout=run.wait_timeout, progress=run.say)


def _failed(job):
    return any(c.get("type") == "Failed" and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def _remove_job(run, job, live=MISSING):
    """The Job and its pods gone (Foreground: waited for), so no retry of it runs any more."""
    change = run.kube.delete("batch/v1", "Job", job.job_name, job.namespace, live=live, propagation="Foreground")
    run.record_changes([change])
    if change.changed:
        run.kube.wait(f"Job {job.namespace}/{job.job_name} to go",
                      lambda: run.kube.get("batch/v1", "Job", job.job_name, job.namespace) is None,
                      run.wait_timeout, progress=run.say)


def _start_failed_job_again(run, job):
    """A rerun of a run whose Job failed after its backoff: that Job is replaced by a new one."""
    live = run.kube.get("batch/v1", "Job", job.job_name, job.namespace)
    if live is None or not _failed(live):
        return
    run.say(f"the Job {job.namespace}/{job.job_name} of the earlier run failed: starting it again")
    _remove_job(run, job, live)


def _schedule(run, record, suspend):
    """The tenant's scheduled backups held while a restore runs (a backup of a half-restored
    tenant, or a prune of the backup being restored, must not happen), and let go after."""
    live = run.kube.get("batch/v1", "CronJob", BACKUP_SCHEDULE, record.namespace)
    if live is None or bool((live.get("spec") or {}).get("suspend")) == suspend:
        return
    run.changed = True
    run.actions.append(f"{'suspended' if suspend else 'resumed'} CronJob {record.namespace}/{BACKUP_SCHEDULE}")
    if not run.check_mode:
        run.kube.request("PATCH", f"/apis/batch/v1/namespaces/{record.namespace}/cronjobs/{BACKUP_SCHEDULE}",
                         body={"spec": {"suspend": suspend}}, content_type="application/merge-patch+json")


def _restore_job(record, settings, source, run_id):
    return jobs.BackupJob(
        name=record.name, namespace=record.namespace, command="import" if source.import_key else "restore",
        backup_id=source.backup_id, database=record.database, plan=record.plan, odoo_version=record.odoo_version,
        image=settings.image, target=settings.target, run_id=run_id, import_key=source.import_key, replace=True,
        source_tenant=source.tenant if source.tenant and source.tenant != record.name else "")


def new_run_id(now=None):
    return f"{(now or datetime.now(timezone.utc)).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def restore_tenant(run, record, source, safety_backup=True):
    """Replace what the tenant holds with `source`; returns a summary dict (None in check mode)."""
    settings, store = backups.open_target(run)
    unfinished = restore_records.unfinished(run.ledger, record.name) if record else None
    if unfinished and unfinished.source != source.as_dict():
        raise SaasError(f"tenant {record.name} has an unfinished restore (run {unfinished.run_id}) of "
                        f"{unfinished.source}: run tenant_restore again with that source to finish it first; "
                        "nothing was changed")
    manifest = check_source(run, record, source, store, settings)
    if unfinished:
        run_id, replicas, safety_backup = unfinished.run_id, unfinished.replicas, unfinished.safety_backup
        run.say(f"finishing restore run {run_id} of {source.describe()}, which an earlier run started")
        since = unfinished.started_at
    else:
        run_id, replicas = new_run_id(), _odoo_replicas(run, record)
        since = None
        if not run.check_mode:
            since = restore_records.start(run.ledger, record.name, run_id, source.as_dict(), replicas,
                                          safety_backup).started_at
            run.record_ledger(f"restore run {run_id} of {source.describe()} into {record.name} started")
    run.say(f"stopping Odoo and the scheduled backups in {record.namespace}")
    _schedule(run, record, suspend=True)
    stop_pods(run, record, kinds=("Deployment",), label_selector=ODOO_PODS)
    reached("restore:odoo-stopped")
    safety = None
    if safety_backup:
        run.say("taking the safety backup (kind pre-restore)")
        safety = backups.take_backup(run, record, kind="pre-restore", since=since or datetime.now(timezone.utc))
    job = _restore_job(record, settings, source, run_id)
    if run.check_mode:
        run.changed = True
        run.actions.append(f"restore {source.describe()} into {record.name}, replacing its database and filestore "
                           "(check mode)")
        _scale_back(run, record, {name: count for name, count in replicas.items() if count})
        _schedule(run, record, suspend=record.state == "suspended")
        return None
    _start_failed_job_again(run, job)
    run.record_changes(run.kube.apply_all(backups.job_objects(run, record, settings, job, settings.identity)))
    run.say(f"restore Job {job.namespace}/{job.job_name} created; waiting for it")
    try:
        run.kube.wait_job_complete(job.namespace, job.job_name, timeout=run.wait_timeout, progress=run.say)
    except KubeError as error:
        live = run.kube.get("batch/v1", "Job", job.job_name, job.namespace)
        result = (backups.program_result(run, job, newest_only=True) if live and _failed(live) else None) or {}
        cause = result.get("msg") or str(error)
        run.record_changes(run.kube.apply_all([jobs.target_secret(job, settings.access_key, settings.secret_key)]))
        if result.get("database_replaced") is False:
            # The Job failed for good (no retry left) and its last pod found the data untouched.
            _remove_job(run, job)
            _scale_back(run, record, replicas)
            _schedule(run, record, suspend=record.state == "suspended")
            restore_records.end(run.ledger, record.name, run_id, failed=cause)
            raise SaasError(f"restore of {source.describe()} into tenant {record.name} failed: {cause} The tenant's "
                            "data is as it was and Odoo runs again.") from None
        raise SaasError(f"restore of {source.describe()} into tenant {record.name} did not finish: {cause} Odoo stays "
                        "stopped; fix the cause and run tenant_restore again to finish it.") from None
    reached("restore:job-complete")
    # The identity stays in the namespace only while a restore needs it.
    run.record_changes(run.kube.apply_all([jobs.target_secret(job, settings.access_key, settings.secret_key)]))
    run.say("bringing Odoo and the scheduled backups back")
    _scale_back(run, record, replicas)
    _schedule(run, record, suspend=record.state == "suspended")
    summary = {"run": run_id, "source": source.as_dict(), "job": f"{job.namespace}/{job.job_name}",
               "safety_backup": safety.id if safety else None,
               "size": manifest.size if manifest else store.size(source.import_key)}
    restore_records.end(run.ledger, record.name, run_id, safety_backup=summary["safety_backup"])
    run.record_ledger(f"restore run {run_id} of {source.describe()} into {record.name} finished")
    run.changed = True
    return summary
