# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Job that backs a tenant up, or restores one, inside the cluster, and what it needs
beside it: the Secret with the target's keys and the NetworkPolicy that lets it reach its
database and the object store.

It runs in the tenant's namespace, as Odoo's user (so it reads the filestore Odoo wrote), with
the filestore claim mounted (read-only for a backup) and an emptyDir for the parts on their way.
The database credentials are the tenant's own (the odoo-db Secret): a backup needs no admin
password, and a restore writes only what the tenant's role owns. Its program is the one the
tests run (programs/backup_job), with exactly this environment (request/job_contract).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import SpecError
from ..request import job_contract as env
from ..request.backup_settings import BackupTargetSettings  # noqa: F401 - the Job's target, re-exported
from ..request.egress import block_outside
from .base import (
    DB_SECRET, FILESTORE_CLAIM, NAME_LABEL, ODOO, POSTGRESQL, SERVICE_ACCOUNT, TENANT_LABEL, base_labels, component_labels,
    metadata,
)
from ..request.naming import BACKUP_ID
from ..request.odoo_versions import ODOO_USER_IDS
from .odoo_config import DATA_DIR

BACKUP_PROGRAM = "odoo-saas-backup"  # the app.kubernetes.io/name of its pods
SCRATCH_DIR = "/scratch"
TARGET_MOUNT = "/backups"  # a directory target's volume
BACKOFF_LIMIT = 1
TTL_SECONDS = 7 * 24 * 3600  # finished Jobs (and their logs) stay a week, then go
NETWORK_POLICY = "allow-backup-job"
DATABASE_POLICY = "allow-database-from-backup-job"
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


@dataclass(frozen=True)
class BackupJob:
    """One run of the program: `command` backup or restore, for one tenant."""

    name: str  # the tenant (read by base.metadata and base_labels)
    namespace: str
    command: str
    backup_id: str
    database: str  # the database backed up, or restored into
    plan: str
    odoo_version: str
    image: str
    target: BackupTargetSettings
    encrypt_to: str = ""
    source_tenant: str = ""  # restore: whose backup, when not the tenant's own
    filestore_database: str = ""  # restore: the directory filestore/<this> to fill (default: database)
    run_id: str = ""  # names the Job when one backup is restored more than once (default: the backup id)
    import_key: str = ""  # import: the Odoo export's key in the store
    replace: bool = False  # restore, import: replace what the tenant holds (run_id names the run)
    retention: str = ""  # a scheduled backup (no backup_id): the plan's policy, applied after it
    deadline_seconds: int = 6 * 3600
    extra_labels: dict = field(default_factory=dict)

    @property
    def job_name(self):
        return f"{self.command}-{self.run_id or self.backup_id}"


def _check(job):
    if job.command not in env.COMMANDS:
        raise SpecError("command", f"must be one of {', '.join(env.COMMANDS)}")
    if job.retention and (job.command != "backup" or job.backup_id):
        raise SpecError("retention", "only a scheduled backup (a backup without backup_id) applies retention")
    if not job.retention and not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z", job.job_name):
        raise SpecError("run_id" if job.run_id else "backup_id", f"{job.run_id or job.backup_id!r} does not make a valid "
                        "Job name (lower-case letters, digits and -, at most 63 in all)")
    if job.target.kind not in ("s3", "directory"):
        raise SpecError("backup_target.kind", "must be s3 or directory")
    if job.replace and not (job.run_id and job.command in ("restore", "import")):
        raise SpecError("replace", "only a restore or an import replaces, and it needs a run_id naming the run")
    if job.command == "import" and not (job.import_key and job.run_id):
        raise SpecError("import_key", "an import needs the export's key in the store and a run_id naming its Job")
    if job.odoo_version not in ODOO_USER_IDS:
        raise SpecError("odoo_version", f"must be one of {', '.join(sorted(ODOO_USER_IDS))}")


def backup_kind(backup_id):
    """The kind an id names (20261201-020000-pre-update-0a1b2c: pre-update); "" for another id."""
    match = BACKUP_ID.match(backup_id)
    return match.group("kind") if match else ""


def _value(name, value):
    return {"name": name, "value": str(value)}


def _from_secret(name, secret, key, optional=False):
    ref = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def environment(job):
    filestore_db = job.filestore_database or job.database
    variables = [_value(env.TENANT, job.name), _value(env.PLAN, job.plan), _value(env.ODOO_VERSION, job.odoo_version),
                 _value(env.FILESTORE, f"{DATA_DIR}/filestore/{filestore_db}"), _value(env.SCRATCH, SCRATCH_DIR),
                 _value(env.TARGET_KIND, job.target.kind)]
    if job.command == "import":
        variables.append(_value(env.IMPORT_KEY, job.import_key))
    else:
        if job.retention:  # scheduled: each run names its own backup
            variables += [_value(env.KIND, "scheduled"), _value(env.RETENTION, job.retention)]
        else:
            variables += [_value(env.BACKUP_ID, job.backup_id), _value(env.KIND, backup_kind(job.backup_id))]
    # The tenant's own credentials; the database is named here: a restore may fill one beside the tenant's.
    variables += [_from_secret(name, DB_SECRET, key) for name, key in env.DB_SECRET_KEYS.items() if name != env.PGDATABASE]
    variables.append(_value(env.PGDATABASE, job.database))
    if job.target.kind == "s3":
        variables += [_value(env.S3_ENDPOINT, job.target.endpoint), _value(env.S3_BUCKET, job.target.bucket),
                      _value(env.S3_PREFIX, job.target.prefix), _value(env.S3_REGION, job.target.region),
                      _from_secret(env.ACCESS_KEY, env.TARGET_SECRET, env.TARGET_SECRET_KEYS[env.ACCESS_KEY]),
                      _from_secret(env.SECRET_KEY, env.TARGET_SECRET, env.TARGET_SECRET_KEYS[env.SECRET_KEY])]
    else:
        variables += [_value(env.TARGET_PATH, TARGET_MOUNT), _value(env.S3_PREFIX, job.target.prefix)]
    if job.command == "backup" and job.encrypt_to:
        variables.append(_value(env.ENCRYPT_TO, job.encrypt_to))
    if job.replace:
        variables.append(_value(env.REPLACE_RUN, job.run_id))
    if job.command == "restore":
        variables.append(_from_secret(env.IDENTITY, env.TARGET_SECRET, env.TARGET_SECRET_KEYS[env.IDENTITY],
                                      optional=True))
        if job.source_tenant:
            variables.append(_value(env.SOURCE_TENANT, job.source_tenant))
    # The API server drops an empty value (a target without region or prefix): leaving it out
    # keeps the object as stored equal to the one applied, and the program reads "" for it.
    return [variable for variable in variables if "valueFrom" in variable or variable["value"]]


def backup_job(job: BackupJob):
    _check(job)
    uid, gid = ODOO_USER_IDS[job.odoo_version]
    labels = {**component_labels(job, BACKUP_PROGRAM, job.command), **job.extra_labels}
    mounts = [{"name": "filestore", "mountPath": DATA_DIR, "readOnly": job.command == "backup"},
              {"name": "scratch", "mountPath": SCRATCH_DIR}]
    volumes = [{"name": "filestore", "persistentVolumeClaim": {"claimName": FILESTORE_CLAIM,
                                                               "readOnly": job.command == "backup"}},
               {"name": "scratch", "emptyDir": {}}]
    if job.target.kind == "directory":
        mounts.append({"name": "backups", "mountPath": TARGET_MOUNT})
        volumes.append({"name": "backups", "persistentVolumeClaim": {"claimName": job.target.claim}})
    container = {
        "name": job.command,
        "image": job.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-m", env.PROGRAM_MODULE, job.command],
        "env": environment(job),
        "resources": RESOURCES,
        # The program's last line is its JSON result: the kubelet keeps it as the termination message.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True},
        "volumeMounts": mounts,
    }
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
                            "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}},
        # The filestore is ReadWriteOnce: next to Odoo's pods when they run (a suspended
        # tenant has none, and the volume's own node affinity places the pod then).
        "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"labelSelector": {"matchLabels": {TENANT_LABEL: job.name, NAME_LABEL: ODOO}},
                                "topologyKey": "kubernetes.io/hostname"}}]}},
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(job, job.job_name, labels),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": job.deadline_seconds,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def target_secret(job, access_key, secret_key, identity=""):
    """The target's keys in the tenant's namespace; the identity only while a restore needs it."""
    data = {env.TARGET_SECRET_KEYS[env.ACCESS_KEY]: access_key, env.TARGET_SECRET_KEYS[env.SECRET_KEY]: secret_key}
    if identity:
        data[env.TARGET_SECRET_KEYS[env.IDENTITY]] = identity
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata(job, env.TARGET_SECRET, base_labels(job)),
            "type": "Opaque", "stringData": data}


def network_policies(job, database_namespace, database_port, dedicated=False, closed_ranges=()):
    """Backup pods reach their database and the object store's endpoint, nothing else (DNS is
    open to every pod of the namespace already); a dedicated server, which admits Odoo's pods
    only, also admits them. closed_ranges: the platform's (request.egress.ClosedRange)."""
    egress = [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": database_namespace}},
                       "podSelector": {"matchLabels": {NAME_LABEL: POSTGRESQL}}}],
               "ports": [{"protocol": "TCP", "port": database_port}]}]
    if job.target.kind == "s3":
        # Named ranges are taken as given (an object store inside the cluster's network is one);
        # "anywhere" carves out the cluster's closed ranges, as the tenant's own egress does.
        if job.target.egress_cidrs:
            blocks = [{"cidr": cidr} for cidr in job.target.egress_cidrs]
        else:
            blocks = [block_outside("0.0.0.0/0", closed_ranges)]
        egress.append({"to": [{"ipBlock": block} for block in blocks],
                       "ports": [{"protocol": "TCP", "port": job.target.egress_port}]})
    backup_pods = {"matchLabels": {NAME_LABEL: BACKUP_PROGRAM}}
    policies = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(job, NETWORK_POLICY),
                 "spec": {"podSelector": backup_pods, "policyTypes": ["Egress"], "egress": egress}}]
    if dedicated:
        policies.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(job, DATABASE_POLICY),
            "spec": {"podSelector": {"matchLabels": {NAME_LABEL: POSTGRESQL}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": backup_pods}],
                                  "ports": [{"protocol": "TCP", "port": database_port}]}]}})
    return policies


BACKUP_SCHEDULE = "scheduled-backup"


def backup_schedule(job: BackupJob, schedule: str, suspend=False):
    """The CronJob that backs the tenant up daily (schedule in UTC, from the plan) with the
    program's scheduled kind: each run names its own backup, then prunes by `job.retention`.
    One at a time; a run missed by more than an hour (the controller down) is skipped, the
    next day's is not."""
    template = backup_job(job)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(job, BACKUP_SCHEDULE, component_labels(job, BACKUP_PROGRAM, "scheduled")),
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "suspend": bool(suspend),
            "jobTemplate": {"metadata": {"labels": template["spec"]["template"]["metadata"]["labels"]},
                            "spec": template["spec"]},
        },
    }


def scheduled_backup_objects(spec, settings, database_namespace, database_port, closed_ranges=(), suspended=False):
    """What a tenant gets when its environment has a backup target: the target's keys, the
    backup pods' NetworkPolicies and the daily CronJob (suspended with the tenant: nothing
    changes while it is, and a dedicated server is down)."""
    job = BackupJob(name=spec.name, namespace=spec.namespace, command="backup", backup_id="", database=spec.database,
                    plan=spec.plan.name, odoo_version=spec.odoo_version, image=settings.image, target=settings.target,
                    encrypt_to=settings.recipient, retention=spec.plan.backups.retention_text())
    return [target_secret(job, settings.access_key, settings.secret_key),
            *network_policies(job, database_namespace, database_port, spec.db_strategy == "dedicated", closed_ranges),
            backup_schedule(job, spec.plan.backups.schedule_for(spec.name), suspend=suspended)]
