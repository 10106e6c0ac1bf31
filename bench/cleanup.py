"""Removing what a benchmark created: our tenants through the module (state absent, no backup),
the baseline's by deleting their namespaces, databases and roles; in parallel, because each
removal mostly waits for pods and namespaces to go. A final sweep by the run's name prefix
catches anything a failed or interrupted run left behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from tests.cluster import control_plane
from tests.integration import tenants

from .sides import params

WORKERS = 8


def _parallel(function, items):
    """function(item) for every item; returns the failures as text (never raises)."""
    def attempt(item):
        try:
            function(item)
            return None
        except Exception as error:  # noqa: BLE001 - reported, and the sweep still runs
            return f"{item}: {error}"
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return [failure for failure in pool.map(attempt, items) if failure]


def remove_ours(names, ledger_db, backup_dir):
    """Decommission our tenants through the module's core (what tenants.remove_all does, in parallel)."""
    def remove(name):
        _result, failure = run_tenant(params(ledger_db, backup_dir, name=name, state="absent", confirm=name,
                                             backup=False, wait_timeout=300), False)
        if failure:
            raise RuntimeError(failure)
    return _parallel(remove, names)


def _admin():
    server = tenants.SHARED_1
    return pg.connect(pg.ServerConnection(name=server.name, host="127.0.0.1", port=server.port, user="postgres",
                                          password=server.password(), connect_timeout=10))


def remove_baseline(names):
    """Delete the baseline tenants' namespaces (and wait), drop their databases and roles."""
    kube = Kube.connect(kubeconfig=str(control_plane.layout().kubeconfig))
    try:
        def delete(name):
            kube.delete("v1", "Namespace", naming.namespace_for(name))
            conn = _admin()
            try:
                pg.drop_tenant_database(conn, naming.role_for(name), naming.database_for(name), execute=True)
            finally:
                conn.close()
            kube.wait_gone("v1", "Namespace", naming.namespace_for(name), timeout=300)
        return _parallel(delete, names)
    finally:
        kube.close()


def sweep(run_id, ledger_db, backup_dir):
    """Remove every tenant of this run still in the ledger (tenants.remove_all), then any namespace,
    database or role left with the run's prefix. Returns what could not be removed."""
    failures = []
    try:
        tenants.remove_all(ledger_db, backup_dir)
    except Exception as error:  # noqa: BLE001 - go on with the rest
        failures.append(f"remove_all: {error}")
    prefix = f"bk{run_id}-"
    kube = Kube.connect(kubeconfig=str(control_plane.layout().kubeconfig))
    try:
        left = {ns["metadata"]["name"][len(naming.namespace_for("")):] for ns in kube.list("v1", "Namespace")
                if ns["metadata"]["name"].startswith(naming.namespace_for(prefix))}
    finally:
        kube.close()
    with tenants.connect(tenants.SHARED_1) as conn:
        like = naming.role_for(prefix).replace("_", "\\_") + "%"
        left |= {row[0][len(naming.role_for("")):].replace("_", "-") for row in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s UNION SELECT datname FROM pg_database WHERE datname LIKE %s",
            (like, like)).fetchall()}
    failures += remove_baseline(sorted(left))
    return failures
