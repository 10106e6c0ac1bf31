"""Runs killed with SIGKILL at a crash point (plugins/module_utils/crashpoints.py), then run
again: the scenarios test_tenant_crash.py (a subset of points) and tests/proof/test_crash.py
(every point) share. Each returns an Outcome: what was left behind and what leaked."""

from __future__ import annotations

import base64
import glob
import os
from dataclasses import dataclass, field

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE

from . import tenants
from .leftovers import kube, leftovers, leaked, platform_secrets, put_marker_table, record_of

SERVERS = {server.name: server for server in (tenants.SHARED_1, tenants.SHARED_2)}
PLAN = "small"

# Provisioning, suspension and resumption (operations/converge.py), in the order a run reaches them.
CONVERGE_POINTS = ["after-reserve", "after-foundation", "after-database", "after-init-job", "before-ledger-state"]
# Between SQL statements on the shared server while provisioning (pg.apply_statements).
PROVISION_SQL_POINTS = ["after-sql:create-role", "after-sql:create-database", "after-sql:revoke-public",
                        "after-sql:grant-connect"]
# Decommissioning, in order; "backup:*" are inside the backup (backup.backup_database).
DECOMMISSION_POINTS = [
    "after-deleting-state", "after-scale:Deployment/odoo-cron", "after-scale:Deployment/odoo-web",
    "after-pods-stopped", "backup:dump-written", "backup:verified", "backup:renamed", "filestore:archived",
    "after-backup", "after-sql:terminate-sessions", "after-sql:drop-database", "after-sql:drop-role", "after-drop",
    "after-delete:Namespace/{namespace}", "after-namespace-deleted",
]
# Suspension and resumption change only the Deployments' replicas, then the ledger state.
SUSPENSION_POINTS = ["after-apply:Deployment/odoo-web", "after-apply:Deployment/odoo-cron", "before-ledger-state"]
# The kill mid-write of the dump: what SIGKILL during pg_dump leaves, a truncated temporary.
TRUNCATED = "backup:dump-written+truncated"


def object_points(plan=PLAN):
    """after-apply:<Kind>/<name> for every object of a tenant on `plan`, in apply order, with
    {namespace} standing for the tenant's namespace."""
    platform = specs.load_platform(tenants.params("unused", "/tmp"))
    spec = specs.build_spec({"name": "sample", "plan": plan}, platform)
    target = manifests.DatabaseTarget(server="postgres-shared-1", host="postgres", port=5432, name=spec.database,
                                      user=spec.role, namespace="postgres-shared-1")
    secrets = manifests.TenantSecrets("unused-1", "unused-2", "unused-3" if spec.db_strategy == "dedicated" else None)
    return [f"after-apply:{o['kind']}/{o['metadata']['name']}".replace(spec.namespace, "{namespace}")
            for o in manifests.tenant_objects(spec, platform, target, secrets)]


@dataclass
class Outcome:
    point: str
    killed: bool = False
    converged: bool = False
    problems: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def check(self):
        assert self.killed, f"the run was not killed at {self.point}: {self.notes}"
        assert self.converged, f"not converged after a kill at {self.point}: {self.notes}"
        assert self.problems == [], f"left behind after a kill at {self.point}: {self.problems}"
        assert self.leaks == [], f"secrets leaked after a kill at {self.point}: {self.leaks}"


def point_for(point, name):
    return point.format(namespace=f"tenant-{name}")


def killed_at(point, module_params):
    """Run in a child process that kills itself at `point`; returns (killed, its output)."""
    child = tenants.tenant_in_subprocess(module_params, env=dict(os.environ, **{VARIABLE: point}))
    return child.returncode == -9, child.stdout + child.stderr


def rerun(outcome, module_params, state):
    """Run again until done, then once more: that one must change nothing."""
    result, failure = tenants.tenant(module_params)
    again, failure_again = tenants.tenant(module_params)
    tenant_state = (result.get("tenant") or {}).get("state")
    outcome.converged = (failure is None and failure_again is None and tenant_state == state
                         and again["changed"] is False)
    if not outcome.converged:
        outcome.notes.append(f"rerun: {failure or tenant_state}; again: {failure_again or again['actions']}")
    return result, again


def tenant_secrets(core, name):
    return tenants.secrets_of(core, f"tenant-{name}")


def provisioning(core, ledger_db, backup_dir, point, plan=PLAN, name=None):
    """A new tenant's provisioning killed at `point`, then run again."""
    name = name or tenants.unique("crash")
    module_params = tenants.params(ledger_db, backup_dir, name=name, plan=plan)
    outcome = Outcome(point)
    outcome.killed, output = killed_at(point_for(point, name), module_params)
    outcome.notes.append(output[-1500:])
    result, again = rerun(outcome, module_params, "active")
    outcome.problems = leftovers(ledger_db, name, "active", backup_dir, SERVERS)
    outcome.leaks = leaked(platform_secrets(module_params) + tenant_secrets(core, name), output, result, again)
    return outcome


def state_change(core, ledger_db, backup_dir, name, point, state):
    """An existing tenant's suspension (state suspended) or resumption (present) killed at
    `point`, then run again."""
    module_params = tenants.params(ledger_db, backup_dir, name=name, state=state)
    outcome = Outcome(f"{'suspension' if state == 'suspended' else 'resumption'} {point}")
    outcome.killed, output = killed_at(point_for(point, name), module_params)
    outcome.notes.append(output[-1500:])
    result, again = rerun(outcome, module_params, outcome_state(state))
    outcome.problems = leftovers(ledger_db, name, outcome_state(state), backup_dir, SERVERS)
    outcome.problems += replicas_problems(name, 0 if state == "suspended" else 1)
    outcome.leaks = leaked(platform_secrets(module_params) + tenant_secrets(core, name), output, result, again)
    return outcome


def outcome_state(state):
    return "suspended" if state == "suspended" else "active"


def replicas_problems(name, wanted):
    api = kube()
    try:
        problems = []
        for deployment in ("odoo-web", "odoo-cron"):
            live = api.get("apps/v1", "Deployment", deployment, f"tenant-{name}") or {}
            replicas = (live.get("spec") or {}).get("replicas")
            if (replicas == 0) != (wanted == 0):
                problems.append(f"Deployment {deployment} has {replicas} replicas, expected {'0' if not wanted else 'some'}")
        return problems
    finally:
        api.close()


def decommissioning(core, ledger_db, backup_dir, point):
    """A provisioned tenant (with a table of rows in its database) removed with a backup,
    the removal killed at `point`, then run again."""
    name = tenants.unique("crash")
    result, failure = tenants.tenant(tenants.params(ledger_db, backup_dir, name=name, plan=PLAN))
    assert failure is None, failure
    secrets = tenant_secrets(core, name)
    record, _hosts = record_of(ledger_db, name)
    table = put_marker_table(SERVERS[record.server], record, _db_password(core, name))
    removal = tenants.params(ledger_db, backup_dir, name=name, state="absent", confirm=name)
    outcome = Outcome(point)
    kill_at = point_for(point, name).replace("+truncated", "")
    outcome.killed, output = killed_at(kill_at, removal)
    outcome.notes.append(output[-1500:])
    if point == TRUNCATED:
        _truncate_partials(backup_dir)
    state_after_kill = record_of(ledger_db, name)[0].state
    if state_after_kill != "deleting":
        outcome.problems.append(f"ledger: {state_after_kill} after the kill, expected deleting")
    result, again = rerun(outcome, removal, "deleted")
    outcome.problems += leftovers(ledger_db, name, "deleted", backup_dir, SERVERS, backup_holds=table)
    outcome.leaks = leaked(platform_secrets(removal) + secrets, output, result, again)
    return outcome


def _db_password(core, name):
    secret = core.read_namespaced_secret("odoo-db", f"tenant-{name}")
    return base64.b64decode(secret.data["password"]).decode()


def _truncate_partials(backup_dir):
    partials = glob.glob(os.path.join(str(backup_dir), ".*.partial-*"))
    assert partials, f"the kill at backup:dump-written left no temporary dump in {backup_dir}"
    for path in partials:
        os.truncate(path, os.path.getsize(path) // 2)
