# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only health and drift of tenants: the ledger, the cluster and the databases compared.

One tenant's info reads what it compares object by object. Every tenant's info (the fleet)
compares the same way, but reads in bulk (`Reads.fleet`): each kind of object with one LIST
across the tenant namespaces, each server's catalog with one query per kind of fact, the
backups with one ledger query and one listing of the store, and the tenants' logins several at
a time, beside the comparing. The findings are the same either way (an object a LIST misses is
read with a GET)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import backup_health, credentials
from ..engines import ledger, pg
from ..engines.kube_snapshot import Prefetched
from ..manifests import tenant as manifests
from ..errors import SaasError
from ..engines.kube import clean, up_to_date, with_hash
from .steps import database_target
from ..manifests.base import POSTGRES, ROLE_LABEL, ROLE_TENANT, TENANT_LABEL, WEB_DEPLOYMENT
from ..request import naming
from ..request.spec import build_spec

TENANT_SELECTOR = f"{ROLE_LABEL}={ROLE_TENANT}"
FLEET_LOGINS = 8  # tenants' logins tried at a time over the fleet (each server's connection budget has room)


@dataclass
class Reads:
    """Where describe() reads the servers' catalogs and the backups from (the cluster: run.kube,
    prefetched over the fleet)."""

    backups: object
    catalogs: dict = field(default_factory=dict)
    tenants_by_server: dict = field(default_factory=dict)  # fleet: whose catalog facts to read at once
    logins: list = None  # fleet: (health, future of its login), the logins tried several at a time
    login_pool: ThreadPoolExecutor = None  # fleet: where they run, beside the loop that compares

    @classmethod
    def live(cls, run):
        return cls(backups=backup_health.BackupReads(run))

    @classmethod
    def fleet(cls, run, records):
        run.kube.prefetched = Prefetched(TENANT_LABEL)
        run.kube.prefetched.prefetch(run.kube, manifests.TENANT_KINDS)
        reads = cls(backups=backup_health.BackupReads(run, fleet=True), logins=[],
                    login_pool=ThreadPoolExecutor(max_workers=FLEET_LOGINS, thread_name_prefix="login"))
        for record in records:
            if record.state != "deleted" and record.db_strategy == "shared":
                reads.tenants_by_server.setdefault(record.server, []).append(record.name)
        return reads

    def catalog(self, run, server):
        """The server's catalog, opened when a tenant first needs it (a server whose tenants all
        lack a namespace is not connected to, as per tenant); over the fleet, read for all its
        tenants at once."""
        if server not in self.catalogs:
            catalog = pg.Catalog(run.connections.server_connection(server))
            names = self.tenants_by_server.get(server)
            if names:
                catalog.preload([naming.role_for(name) for name in names], [naming.database_for(name) for name in names])
            self.catalogs[server] = catalog
        return self.catalogs[server]

    def try_login(self, health, login):
        """Per tenant: now. Over the fleet: in the pool, while the next tenants are compared (a
        login is mostly the server's work and libpq's hashing, which release this process)."""
        if self.login_pool is None:
            health["database_reachable"] = login()
        else:
            self.logins.append((health, self.login_pool.submit(login)))

    def finish_logins(self):
        """Waits for the fleet's logins and notes each result; the pool is shut down even when
        one failed."""
        if self.login_pool is None:
            return
        try:
            for health, future in self.logins:
                health["database_reachable"] = future.result()
        finally:
            self.login_pool.shutdown(wait=True, cancel_futures=True)

    def abandon_logins(self):
        """The comparing failed: the logins not started are dropped, those running end by themselves."""
        if self.login_pool is not None:
            self.login_pool.shutdown(wait=False, cancel_futures=True)


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


def _dedicated_ready(run, spec):
    """A dedicated server lives inside the cluster: judged by its StatefulSet's readiness."""
    statefulset = run.kube.get("apps/v1", "StatefulSet", POSTGRES, spec.namespace) or {}
    return (statefulset.get("status") or {}).get("readyReplicas", 0) >= 1


def _login(run, spec, record, tenant_secrets):
    """Can the tenant's own role log into its database on its shared server?"""
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


def describe(run, record, reads=None):
    """One tenant's record with health and drift."""
    reads = reads or Reads.live(run)
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
    health = result["health"] = {"odoo_ready": _odoo_ready(run, spec, record), "database_reachable": None}
    if record.db_strategy == "shared":
        catalog = reads.catalog(run, record.server)
        if catalog.database(spec.database) is None:
            drift.append(f"database {spec.database} is missing on {record.server}")
        want = pg.TenantDatabase(role=spec.role, database=spec.database, password=tenant_secrets.db_password,
                                 connection_limit=spec.plan.db_connection_limit)
        if catalog.plan(want):
            drift.append(f"role or database {spec.database} on {record.server} differs from the plan")

        reads.try_login(health, lambda: _login(run, spec, record, tenant_secrets))
    else:
        health["database_reachable"] = _dedicated_ready(run, spec)
    if run.platform.backups is not None:
        health["backup"] = backup_health.of(run, record, reads=reads.backups)
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
    reads = Reads.fleet(run, records)
    try:
        described = [describe(run, record, reads) for record in records]
    except BaseException:
        reads.abandon_logins()  # the error is reported now, not after the queued logins' timeouts
        raise
    reads.finish_logins()
    return described, orphan_namespaces(run, records)
