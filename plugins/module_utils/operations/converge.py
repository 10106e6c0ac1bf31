# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a tenant's objects, database and ledger row to its spec, running or suspended: the
sequence that provisioning, a plan change, suspension and resumption share (docs/tenant-lifecycle.md).

The ledger row first (placement), then access, the Secrets, the foundation objects, the
database role with the Secret's password, the init Job, and Odoo last: a run killed anywhere
is finished by the next.
"""

from __future__ import annotations

from ..crashpoints import reached
from ..engines import ledger
from ..errors import ConflictError
from ..manifests import tenant as manifests
from . import credentials, volumes
from .steps import (
    apply_workloads, check_plan_fits_nodes, database_target, ensure_access, ensure_shared_database, split_foundation,
    wait_workloads,
)


def converge(run, spec, suspended=False):
    """Bring a tenant to present (active) or suspended, creating whatever is missing."""
    if not suspended:  # a suspension schedules no pod: it must work while nodes are cordoned
        check_plan_fits_nodes(run, spec)
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
    ensure_access(run, spec.namespace, access, live_namespace)
    tenant_secrets = credentials.read_or_generate(run.kube, spec.namespace, spec.db_strategy == "dedicated")
    target = database_target(run, spec, record)
    objects = manifests.tenant_objects(spec, run.platform, target, tenant_secrets, suspended=suspended)[len(access):]
    read = volumes.keep_existing_sizes(run, objects, spec.namespace)
    foundation, workloads = split_foundation(objects)
    run.say(f"applying {len(foundation)} namespace, policy, secret and storage objects")
    run.record_changes(run.kube.apply_all(foundation, run.check_mode, known=read))
    reached("after-foundation")
    if spec.db_strategy == "shared":
        ensure_shared_database(run, spec, record, tenant_secrets)
    reached("after-database")
    run.say(f"applying {len(workloads)} workload and route objects")
    apply_workloads(run, spec, workloads, known=read)
    wait_workloads(run, spec)
    reached("before-ledger-state")
    state = "suspended" if suspended else "active"
    if ledger.set_state(run.ledger, spec.name, state, run.check_mode):
        run.record_ledger(f"tenant {spec.name} is {state}")
    return ledger.get_tenant(run.ledger, spec.name) or record


def activate(run, request):
    """Provision, finish a provisioning, change the plan or resume: the tenant running its spec."""
    return converge(run, request.spec)


def suspend(run, request):
    """Everything kept, nothing running: the same objects with zero replicas."""
    return converge(run, request.spec, suspended=True)
