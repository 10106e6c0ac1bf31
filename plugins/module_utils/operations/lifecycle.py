# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant state machine (docs/tenant-lifecycle.md).

    (none) -> provisioning -> active <-> suspended -> deleting -> deleted

Every step is idempotent and ordered so that a run killed at any point is finished by running
it again: the ledger row first (placement), then the Secrets, then the database role with the
Secret's password, then the workloads. Removal takes a verified backup before anything is
dropped, and drops the database only after the tenant's pods are gone.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..engines import backup, filestore, ledger, pg
from . import credentials, volumes
from ..manifests import tenant as manifests
from ..request import naming, node_fit
from ..crashpoints import reached
from ..errors import ConflictError, SaasError, SpecError
from ..engines.kube import MISSING
from ..manifests.base import DEDICATED, INIT_JOB, POSTGRES, POSTGRES_PORT
from ..redact import redact_object

# Applied before the database exists; the rest (workloads, routes) after it.
FOUNDATION_KINDS = ("Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount", "Secret",
                    "ConfigMap", "PersistentVolumeClaim", "Service")


@dataclass
class Run:
    """One module run: its clients, settings and what it did."""

    connections: object
    platform: object
    check_mode: bool = False
    wait: bool = True
    wait_timeout: int = 600
    progress: object = None
    actions: list = field(default_factory=list)
    diffs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    changed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def kube(self):
        return self.connections.kube

    @property
    def ledger(self):
        return self.connections.ledger

    def say(self, message):
        if self.progress:
            self.progress(f"[{time.monotonic() - self.started:5.1f}s] {message}")

    def warn(self, message):
        self.warnings.append(message)
        self.say(f"warning: {message}")

    def record_changes(self, changes):
        for change in changes:
            if not change.changed:
                continue
            self.changed = True
            self.actions.append(f"{change.action} {change.ref}")
            self.diffs.append({
                "before_header": change.ref, "after_header": change.ref,
                "before": redact_object(change.before) if change.before else {},
                "after": redact_object(change.after) if change.after else {},
            })

    def record_sql(self, server, statements, executed=True):
        for statement in statements:
            self.changed = True
            self.actions.append(f"SQL on {server}: {statement.display}" + ("" if executed else " (check mode)"))

    def record_ledger(self, message):
        self.changed = True
        self.actions.append(f"ledger: {message}")


def database_target(run, spec, record):
    if spec.db_strategy == "dedicated":
        return manifests.DatabaseTarget(server=DEDICATED, host=POSTGRES, port=POSTGRES_PORT, name=spec.database,
                                        user=spec.role, namespace=spec.namespace)
    server = run.connections.server(record.server)
    return manifests.DatabaseTarget(server=record.server, host=server.cluster_host, port=server.cluster_port,
                                    name=spec.database, user=spec.role, namespace=record.server)


def _split(objects):
    foundation = [o for o in objects if o["kind"] in FOUNDATION_KINDS]
    workloads = [o for o in objects if o["kind"] not in FOUNDATION_KINDS]
    return foundation, workloads


def _init_job_done(run, namespace):
    job = run.kube.get("batch/v1", "Job", INIT_JOB, namespace)
    return bool(job and (job.get("status") or {}).get("succeeded"))


def _ensure_shared_database(run, spec, record, tenant_secrets):
    conn = run.connections.server_connection(record.server)
    want = pg.TenantDatabase(role=spec.role, database=spec.database, password=tenant_secrets.db_password,
                             connection_limit=spec.plan.db_connection_limit)
    statements = pg.plan_tenant_database(conn, want)
    if statements and not run.check_mode:
        run.say(f"creating/updating role and database {spec.database} on {record.server}")
        pg.apply_statements(conn, statements)
    run.record_sql(record.server, statements, executed=not run.check_mode)


def _apply_workloads(run, spec, workloads, known=None):
    """StatefulSet and init Job first, wait for the Job, then Odoo and its route: Odoo must
    not start on a database that is not initialised yet."""
    namespace = spec.namespace
    before_job, after_job = [], []
    seen_job = False
    for obj in workloads:
        if obj["kind"] == "Job" and obj["metadata"]["name"] == INIT_JOB:
            seen_job = True
            # A finished init Job has done its work; its pod template is immutable anyway.
            if _init_job_done(run, namespace):
                continue
            before_job.append(obj)
        elif seen_job or obj["kind"] in ("Deployment", "Ingress"):
            after_job.append(obj)
        else:
            before_job.append(obj)
    run.record_changes(run.kube.apply_all(before_job, run.check_mode, known=known))
    if not run.check_mode and run.kube.get("batch/v1", "Job", INIT_JOB, namespace) is not None:
        run.say(f"waiting for the database initialisation Job in {namespace}")
        run.kube.wait_job_complete(namespace, INIT_JOB, run.wait_timeout, progress=run.say)
    reached("after-init-job")
    run.record_changes(run.kube.apply_all(after_job, run.check_mode))


def _ensure_access(run, namespace, access, live_namespace=MISSING):
    """The namespace and the automation's RoleBinding in it, before anything inside is read:
    the automation's ServiceAccount has no access to a namespace that does not bind it."""
    known = None if live_namespace is MISSING else {("Namespace", namespace): live_namespace}
    changes = run.kube.apply_all(access, run.check_mode, known=known)
    run.record_changes(changes)
    if any(change.kind == "RoleBinding" and change.changed for change in changes) and not run.check_mode:
        # RBAC takes effect once the API server's authorizer has seen the binding (usually at once).
        run.kube.wait(f"the RoleBinding in {namespace} to take effect",
                      lambda: run.kube.can("get", "secrets", namespace), min(run.wait_timeout, 60), interval=0.2,
                      progress=run.say)


def _wait_workloads(run, spec):
    if run.check_mode or not run.wait:
        return
    for kind, name in manifests.workload_names(spec):
        run.kube.wait_rollout(spec.namespace, kind, name, run.wait_timeout, progress=run.say)


def _check_plan_fits_nodes(run, spec):
    nodes = run.kube.nodes()
    if nodes is None:
        message = ("these credentials may not read the cluster's nodes, so whether the plan's pods fit a node was "
                   "not checked (roles/saas_system grants the automation nodes get/list: run it again)")
        if message not in run.warnings:
            run.warn(message)
        return
    node_fit.check_plan_fits_nodes(spec.plan, spec.db_strategy, nodes, f"plans.{spec.plan.name}")


def converge(run, spec, suspended=False):
    """Bring a tenant to present (active) or suspended, creating whatever is missing."""
    if not suspended:  # a suspension schedules no pod: it must work while nodes are cordoned
        _check_plan_fits_nodes(run, spec)
    # The API server answers (and the placed server accepts a connection) before anything is
    # written: a run that finds a dependency down stops with nothing touched.
    live_namespace = run.kube.get("v1", "Namespace", spec.namespace)
    if live_namespace and live_namespace["metadata"].get("deletionTimestamp"):
        raise ConflictError(f"namespace {spec.namespace} is still terminating (the tenant was being removed): "
                            "wait until it is gone, then run again; nothing was changed")
    record, ledger_changed = ledger.reserve(run.ledger, spec, run.check_mode)
    if ledger_changed:
        run.record_ledger(f"tenant {spec.name} recorded (plan {spec.plan.name}, server {record.server or 'dedicated'})")
    run.say(f"tenant {spec.name}: placed on {record.server or 'a dedicated PostgreSQL'}")
    if spec.db_strategy == "shared":
        run.connections.server_connection(record.server)
    reached("after-reserve")
    access = manifests.access_objects(spec, run.platform)
    _ensure_access(run, spec.namespace, access, live_namespace)
    tenant_secrets = credentials.read_or_generate(run.kube, spec.namespace, spec.db_strategy == "dedicated")
    target = database_target(run, spec, record)
    objects = manifests.tenant_objects(spec, run.platform, target, tenant_secrets, suspended=suspended)[len(access):]
    read = volumes.keep_existing_sizes(run, objects, spec.namespace)
    foundation, workloads = _split(objects)
    run.say(f"applying {len(foundation)} namespace, policy, secret and storage objects")
    run.record_changes(run.kube.apply_all(foundation, run.check_mode, known=read))
    reached("after-foundation")
    if spec.db_strategy == "shared":
        _ensure_shared_database(run, spec, record, tenant_secrets)
    reached("after-database")
    run.say(f"applying {len(workloads)} workload and route objects")
    _apply_workloads(run, spec, workloads, known=read)
    _wait_workloads(run, spec)
    reached("before-ledger-state")
    state = "suspended" if suspended else "active"
    if ledger.set_state(run.ledger, spec.name, state, run.check_mode):
        run.record_ledger(f"tenant {spec.name} is {state}")
    return ledger.get_tenant(run.ledger, spec.name) or record


def existing_record(run, name):
    record = ledger.get_tenant(run.ledger, name)
    return None if record is None or record.state == "deleted" else record


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
        raise ConflictError(f"namespace tenant-{name} exists but the ledger has no tenant {name}: "
                            "remove the namespace by hand after checking what it holds")
    # A namespace already terminating (a removal killed while waiting for it, or a delete by
    # hand) has lost its RoleBinding, or soon will: nothing inside it is read or changed.
    terminating = namespace_exists and bool(live_namespace["metadata"].get("deletionTimestamp"))
    if namespace_exists and not terminating:
        _ensure_access(run, record.namespace, [manifests.automation_binding(record, run.platform)])
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
        _stop_pods(run, record)
    reached("after-pods-stopped")
    saved = _backup(run, record) if take_backup else None
    if take_backup:
        _backup_filestore(run, ledger.get_tenant(run.ledger, name) or record, store)
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


def _backup(run, record):
    if record.backup_location and os.path.exists(record.backup_location) and record.state == "deleting":
        run.say(f"reusing the verified backup {record.backup_location}")
        if record.backup_sha256:
            backup.verify_backup(record.backup_location)
            return backup.BackupResult(record.backup_location, record.backup_sha256, record.backup_size or 0, 0)
        # Renamed into place (so verified) by a run killed before it recorded the checksum.
        saved = backup.existing_backup(record.backup_location)
        if not run.check_mode:
            ledger.set_state(run.ledger, record.name, "deleting", location=saved.path, sha256=saved.sha256, size=saved.size)
        return saved
    if record.db_strategy != "shared":
        raise SaasError(f"tenant {record.name} has a dedicated PostgreSQL: its backup must be taken inside the cluster, "
                        "which this version does not do yet. Take one by hand and run again with backup: false")
    if run.check_mode:
        run.actions.append(f"backup {record.database} to {run.platform.backup_dir} (check mode)")
        return None
    run.say(f"backing up {record.database} from {record.server}")
    server = run.connections.server(record.server).admin
    now = datetime.now(timezone.utc)
    # Where the backup will be is recorded first: a run killed once it is renamed into place
    # finds it there and records it, instead of leaving it behind and taking another.
    planned = os.path.join(run.platform.backup_dir, backup.backup_file_name(record.name, record.database, now))
    ledger.set_state(run.ledger, record.name, "deleting", location=planned)
    saved = backup.backup_database(server, record.database, run.platform.backup_dir, label=record.name, now=now)
    run.changed = True
    run.actions.append(f"backup {record.database} -> {saved.path} (sha256 {saved.sha256}, {saved.entries} entries verified)")
    # Recorded at once, so a run killed after this point reuses it instead of dumping again.
    ledger.set_state(run.ledger, record.name, "deleting", location=saved.path, sha256=saved.sha256, size=saved.size)
    return saved


def _backup_filestore(run, record, store):
    """The filestore archive next to the dump; recorded where it will be before it is written, so a
    run killed after the rename finds it (verified again) instead of taking a second one."""
    recorded = record.filestore_backup or {}
    if recorded.get("location") and os.path.exists(recorded["location"]):
        if recorded.get("sha256"):
            filestore.verify_archive(recorded["location"])
            run.say(f"reusing the verified filestore archive {recorded['location']}")
            return
        saved = filestore.existing_archive(recorded["location"])
    elif store is None:
        run.say(f"tenant {record.name} has no filestore volume: nothing to archive")
        return
    elif run.check_mode:
        run.actions.append(f"archive the filestore {store} to {run.platform.backup_dir} (check mode)")
        return
    else:
        now = datetime.now(timezone.utc)
        planned = os.path.join(run.platform.backup_dir, filestore.archive_name(record.name, record.database, now))
        ledger.set_state(run.ledger, record.name, "deleting", filestore={"location": planned})
        run.say(f"archiving the filestore of {record.namespace}")
        saved = filestore.archive_filestore(store, run.platform.backup_dir, record.database, label=record.name, now=now)
        reached("filestore:archived")
        run.changed = True
        run.actions.append(f"filestore {record.namespace} -> {saved.path} (sha256 {saved.sha256}, "
                           f"{saved.entries} entries verified)")
    ledger.set_state(run.ledger, record.name, "deleting",
                     filestore={"location": saved.path, "sha256": saved.sha256, "size": saved.size})


def _stop_pods(run, record):
    """Scale Odoo (and a dedicated PostgreSQL) to 0 and wait until no pod may hold a database
    session. Pods that never started hold none: they are deleted, never waited for, and an
    unfinished init Job goes with its pods (else it would make new ones)."""
    namespace = record.namespace
    for kind in ("Deployment", "StatefulSet"):
        for obj in run.kube.list("apps/v1", kind, namespace):
            if (obj.get("spec") or {}).get("replicas", 0) == 0:
                continue
            run.changed = True
            run.actions.append(f"scaled {kind} {namespace}/{obj['metadata']['name']} to 0")
            if not run.check_mode:
                run.kube.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/{kind.lower()}s/{obj['metadata']['name']}/scale",
                                 body={"spec": {"replicas": 0}}, content_type="application/merge-patch+json")
                reached(f"after-scale:{kind}/{obj['metadata']['name']}")
    _delete_unfinished_init_job(run, namespace)
    if not run.check_mode:
        run.say(f"waiting for the pods of {namespace} to stop")
        run.kube.wait(f"the pods of {namespace} to stop", lambda: not _live_pods(run, namespace),
                      run.wait_timeout, progress=run.say)


def _delete_unfinished_init_job(run, namespace):
    job = run.kube.get("batch/v1", "Job", INIT_JOB, namespace)
    if job is None or (job.get("status") or {}).get("succeeded") or (job.get("metadata") or {}).get("deletionTimestamp"):
        return
    run.changed = True
    run.actions.append(f"deleted the unfinished Job {namespace}/{INIT_JOB}")
    # Background: the garbage collector deletes its pods; Foreground would keep the Job until they are gone.
    run.kube.delete("batch/v1", "Job", INIT_JOB, namespace, check_mode=run.check_mode, live=job, propagation="Background")


def never_started(pod):
    """A pod none of whose containers has run: unscheduled, pulling its image, or unable to."""
    status = pod.get("status") or {}
    return status.get("phase") == "Pending" and not any(
        (container.get("state") or {}).get("running") or (container.get("state") or {}).get("terminated")
        or (container.get("lastState") or {}).get("terminated")
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))


def _live_pods(run, namespace):
    """Pods that may still hold database sessions (a finished Job's pod does not). Pods that
    never started are deleted here rather than waited for."""
    live = []
    for pod in run.kube.list("v1", "Pod", namespace):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if never_started(pod):
            if not (pod.get("metadata") or {}).get("deletionTimestamp"):
                run.changed = True
                run.actions.append(f"deleted the pod {namespace}/{pod['metadata']['name']}, which never started")
                run.kube.delete("v1", "Pod", pod["metadata"]["name"], namespace, live=pod, propagation="Background")
            continue
        live.append(pod)
    return live
