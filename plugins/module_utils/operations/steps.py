# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The idempotent steps the operations are built from. Each compares with what exists (objects
by their applied hash and fields, SQL by the catalog) and does only what is missing, so an
operation killed between two steps is finished by running it again."""

from __future__ import annotations

from ..crashpoints import reached
from ..engines import pg
from ..engines.kube import MISSING
from ..engines.workload_problems import never_started
from ..manifests import tenant as manifests
from ..manifests.base import DEDICATED, INIT_JOB, POSTGRES, POSTGRES_PORT
from ..request import node_fit

# Applied before the database exists; the rest (workloads, routes) after it.
FOUNDATION_KINDS = ("Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount", "Secret",
                    "ConfigMap", "PersistentVolumeClaim", "Service")


def database_target(run, spec, record):
    if spec.db_strategy == "dedicated":
        return manifests.DatabaseTarget(server=DEDICATED, host=POSTGRES, port=POSTGRES_PORT, name=spec.database,
                                        user=spec.role, namespace=spec.namespace)
    server = run.connections.server(record.server)
    return manifests.DatabaseTarget(server=record.server, host=server.cluster_host, port=server.cluster_port,
                                    name=spec.database, user=spec.role, namespace=record.server)


def split_foundation(objects):
    foundation = [o for o in objects if o["kind"] in FOUNDATION_KINDS]
    workloads = [o for o in objects if o["kind"] not in FOUNDATION_KINDS]
    return foundation, workloads


def init_job_done(run, namespace):
    job = run.kube.get("batch/v1", "Job", INIT_JOB, namespace)
    return bool(job and (job.get("status") or {}).get("succeeded"))


def ensure_shared_database(run, spec, record, tenant_secrets):
    want = pg.TenantDatabase(role=spec.role, database=spec.database, password=tenant_secrets.db_password,
                             connection_limit=spec.plan.db_connection_limit)
    catalog = run.connections.catalog(record.server)
    statements = catalog.plan(want)
    if statements and not run.check_mode:
        run.say(f"creating/updating role and database {spec.database} on {record.server}")
        catalog.forget(spec.role, spec.database)
        pg.apply_statements(run.connections.server_connection(record.server), statements)
    run.record_sql(record.server, statements, executed=not run.check_mode)


def apply_workloads(run, spec, workloads, known=None):
    """StatefulSet and init Job first, wait for the Job, then Odoo and its route: Odoo must
    not start on a database that is not initialised yet."""
    namespace = spec.namespace
    before_job, after_job = [], []
    seen_job = False
    for obj in workloads:
        if obj["kind"] == "Job" and obj["metadata"]["name"] == INIT_JOB:
            seen_job = True
            # A finished init Job has done its work; its pod template is immutable anyway.
            if init_job_done(run, namespace):
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


def ensure_access(run, namespace, access, live_namespace=MISSING):
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


def wait_workloads(run, spec):
    if run.check_mode or not run.wait:
        return
    for kind, name in manifests.workload_names(spec):
        run.kube.wait_rollout(spec.namespace, kind, name, run.wait_timeout, progress=run.say)


def check_plan_fits_nodes(run, spec):
    nodes = run.kube.nodes()
    if nodes is None:
        message = ("these credentials may not read the cluster's nodes, so whether the plan's pods fit a node was "
                   "not checked (roles/saas_system grants the automation nodes get/list: run it again)")
        if message not in run.warnings:
            run.warn(message)
        return
    node_fit.check_plan_fits_nodes(spec.plan, spec.db_strategy, nodes, f"plans.{spec.plan.name}")


def stop_pods(run, record, kinds=("Deployment", "StatefulSet"), label_selector=None):
    """Scale Odoo (and a dedicated PostgreSQL) to 0 and wait until no pod may hold a database
    session. Pods that never started hold none: they are deleted, never waited for, and an
    unfinished init Job goes with its pods (else it would make new ones). `kinds` and
    `label_selector`: Odoo alone, its dedicated server kept up (for a backup Job)."""
    namespace = record.namespace
    for kind in kinds:
        for obj in run.kube.list("apps/v1", kind, namespace):
            if (obj.get("spec") or {}).get("replicas", 0) == 0:
                continue
            run.changed = True
            run.actions.append(f"scaled {kind} {namespace}/{obj['metadata']['name']} to 0")
            if not run.check_mode:
                run.kube.scale_to_zero(kind, obj["metadata"]["name"], namespace)
                reached(f"after-scale:{kind}/{obj['metadata']['name']}")
    delete_unfinished_init_job(run, namespace)
    if not run.check_mode:
        run.say(f"waiting for the pods of {namespace} to stop")
        run.kube.wait(f"the pods of {namespace} to stop", lambda: not live_pods(run, namespace, label_selector),
                      run.wait_timeout, progress=run.say)


def delete_unfinished_init_job(run, namespace):
    job = run.kube.get("batch/v1", "Job", INIT_JOB, namespace)
    if job is None or (job.get("status") or {}).get("succeeded") or (job.get("metadata") or {}).get("deletionTimestamp"):
        return
    run.changed = True
    run.actions.append(f"deleted the unfinished Job {namespace}/{INIT_JOB}")
    # Background: the garbage collector deletes its pods; Foreground would keep the Job until they are gone.
    run.kube.delete("batch/v1", "Job", INIT_JOB, namespace, check_mode=run.check_mode, live=job, propagation="Background")


def live_pods(run, namespace, label_selector=None):
    """Pods that may still hold database sessions (a finished Job's pod does not). Pods that
    never started are deleted here rather than waited for."""
    live = []
    for pod in run.kube.list("v1", "Pod", namespace, label_selector=label_selector):
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
