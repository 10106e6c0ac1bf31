# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only health and drift of tenants: the ledger, the cluster and the databases compared."""

from __future__ import annotations

from . import backup_health, credentials
from ..engines import ledger, pg
from ..manifests import tenant as manifests
from ..errors import SaasError
from ..engines.kube import clean, up_to_date, with_hash
from .steps import database_target
from ..manifests.base import POSTGRES, ROLE_LABEL, ROLE_TENANT, WEB_DEPLOYMENT
from ..request.spec import build_spec

TENANT_SELECTOR = f"{ROLE_LABEL}={ROLE_TENANT}"


def _object_drift(run, spec, record):
    """Objects missing, or whose fields we manage were changed by hand."""
    run.kube.get("v1", "Namespace", spec.namespace)  # when absent, nothing inside it is read
    tenant_secrets = credentials.read_or_generate(run.kube, spec.namespace, spec.db_strategy == "dedicated")
    desired = manifests.tenant_objects(spec, run.platform, database_target(run, spec, record), tenant_secrets,
                                       suspended=record.state == "suspended")
    drift = []
    for obj in desired:
        wanted = with_hash(obj)
        meta = wanted["metadata"]
        live = run.kube.get(wanted["apiVersion"], wanted["kind"], meta["name"], meta.get("namespace"))
        ref = f"{wanted['kind']} {meta.get('namespace', '')}/{meta['name']}".replace(" /", " ")
        if live is None:
            drift.append(f"missing: {ref}")
        elif wanted["kind"] == "Job":
            continue  # a finished init Job is left as it ran
        elif not up_to_date(live, wanted):
            drift.append(f"changed: {ref}")
    return drift, tenant_secrets


def _odoo_ready(run, spec, record):
    if record.state == "suspended":
        return None
    deployment = run.kube.get("apps/v1", "Deployment", WEB_DEPLOYMENT, spec.namespace)
    if not deployment:
        return False
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    return wanted > 0 and (status.get("readyReplicas") or 0) == wanted


def _database_reachable(run, spec, record, tenant_secrets):
    """Can the tenant's own role log into its database? (shared servers; a dedicated
    server lives inside the cluster and is judged by its StatefulSet's readiness)."""
    if spec.db_strategy == "dedicated":
        statefulset = run.kube.get("apps/v1", "StatefulSet", POSTGRES, spec.namespace) or {}
        return (statefulset.get("status") or {}).get("readyReplicas", 0) >= 1
    admin = run.connections.server(record.server).admin
    tenant = pg.ServerConnection(name=record.server, host=admin.host, port=admin.port, user=spec.role,
                                 password=tenant_secrets.db_password, dbname=spec.database, sslmode=admin.sslmode,
                                 connect_timeout=5)
    try:
        conn = pg.connect(tenant)
    except pg.PgError:
        return False
    conn.close()
    return True


def describe(run, record):
    """One tenant's record with health and drift."""
    result = record.as_dict()
    result["urls"] = [f"https://{host}/" for host in record.hosts]
    if record.state == "deleted":
        result.update(health=None, drift=[])
        return result
    try:
        spec = build_spec({"name": record.name, "plan": record.plan, "db_strategy": record.db_strategy,
                           "domains": list(record.hosts[1:]), "odoo_version": record.odoo_version,
                           "state": "suspended" if record.state == "suspended" else "present"}, run.platform)
    except SaasError as error:
        result.update(health=None, drift=[f"ledger record no longer valid: {error}"])
        return result
    if run.kube.get("v1", "Namespace", spec.namespace) is None:
        result.update(health={"odoo_ready": False, "database_reachable": False},
                      drift=[f"ledger says {record.state} but namespace {spec.namespace} does not exist"])
        return result
    drift, tenant_secrets = _object_drift(run, spec, record)
    if record.db_strategy == "shared":
        conn = run.connections.server_connection(record.server)
        if not pg.database_exists(conn, spec.database):
            drift.append(f"database {spec.database} is missing on {record.server}")
        want = pg.TenantDatabase(role=spec.role, database=spec.database, password=tenant_secrets.db_password,
                                 connection_limit=spec.plan.db_connection_limit)
        if pg.plan_tenant_database(conn, want):
            drift.append(f"role or database {spec.database} on {record.server} differs from the plan")
    result["health"] = {"odoo_ready": _odoo_ready(run, spec, record),
                        "database_reachable": _database_reachable(run, spec, record, tenant_secrets)}
    if run.platform.backups is not None:
        result["health"]["backup"] = backup_health.of(run, record)
    result["drift"] = drift
    return result


def orphan_namespaces(run, known):
    """Tenant namespaces in the cluster that the ledger does not know (or knows as deleted)."""
    names = {clean(ns)["metadata"]["name"] for ns in run.kube.list("v1", "Namespace", label_selector=TENANT_SELECTOR)}
    return sorted(names - {record.namespace for record in known if record.state != "deleted"})


def tenants_info(run, name=None):
    if name:
        record = ledger.get_tenant(run.ledger, name)
        return [describe(run, record)] if record else [], []
    records = ledger.list_tenants(run.ledger)
    return [describe(run, record) for record in records], orphan_namespaces(run, records)
