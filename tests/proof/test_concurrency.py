"""Concurrency (issue 5): sixty provisions at once against a shared server of capacity 50 and a
second one fill the first to exactly 50 and put the rest on the second, with no failure; and
runs racing on one tenant (provisions, a suspend, a plan change) never leave it corrupt."""

from __future__ import annotations

import time

import psycopg
import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from tests.integration import tenants

from . import tenant_pool

SUITE = "concurrency"
PROVISIONS = 60
FIRST_CAPACITY = 50
SECOND_CAPACITY = 100
SERVERS = {server.name: server for server in (tenants.SHARED_1, tenants.SHARED_2)}


@pytest.fixture
def scratch_ledger(tmp_path):
    """A scratch ledger whose first server holds 50 tenants and the second plenty."""
    with tenant_pool.scratch_ledger(tmp_path, FIRST_CAPACITY, {tenants.SHARED_2.name: SECOND_CAPACITY}) as name:
        yield name


def _databases_on(server, wanted):
    with tenants.connect(server) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (sorted(wanted),)).fetchall()
    return {row[0] for row in rows}


def _roles_on(server, wanted):
    with tenants.connect(server) as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (sorted(wanted),)).fetchall()
    return {row[0] for row in rows}


def _tenant_namespaces(core, names):
    found = core.list_namespace(label_selector="odoo-saas.io/role=tenant").items
    return {ns.metadata.name for ns in found if ns.status.phase == "Active"} & {f"tenant-{name}" for name in names}


def test_sixty_provisions_at_once_fill_the_first_server_then_the_second(core, scratch_ledger, tmp_path, figures):
    names = [tenants.unique("conc") for _count in range(PROVISIONS)]
    started = time.monotonic()
    outcomes = tenant_pool.run_all([tenant_pool.params(scratch_ledger, tmp_path, name) for name in names])
    figures.set(SUITE, f"wall time of {PROVISIONS} provisions, {tenant_pool.WIDTH} at a time (s)",
                round(time.monotonic() - started, 1))
    failed = {name: outcome for name, outcome in zip(names, outcomes) if not outcome.ok}
    figures.add(SUITE, "provisions run at once", PROVISIONS)
    figures.add(SUITE, "provisions failed", len(failed))
    assert not failed, failed

    with tenants.connect(tenants.LEDGER, scratch_ledger) as conn:
        usage = tenants.server_counts(conn)
        records = {record.name: record for record in ledger.list_tenants(conn)}
    for server, (used, capacity) in usage.items():
        figures.set(SUITE, f"tenants placed on {server} (capacity {capacity})", used)
    assert usage == {"postgres-shared-1": (FIRST_CAPACITY, FIRST_CAPACITY),
                     "postgres-shared-2": (PROVISIONS - FIRST_CAPACITY, SECOND_CAPACITY)}
    assert set(records) == set(names)
    assert {record.state for record in records.values()} == {"active"}
    for outcome, name in zip(outcomes, names):
        assert outcome.result["tenant"]["database"]["server"] == records[name].server

    # The ledger, the cluster and the servers agree, tenant by tenant.
    assert _tenant_namespaces(core, names) == {record.namespace for record in records.values()}
    for server_name, server in SERVERS.items():
        placed = {record.database for record in records.values() if record.server == server_name}
        everything = {record.database for record in records.values()}
        assert _databases_on(server, everything) == placed, server_name
        roles = {naming.role_for(record.name) for record in records.values() if record.server == server_name}
        assert _roles_on(server, {naming.role_for(name) for name in names}) == roles, server_name
    figures.set(SUITE, "ledger rows = namespaces = databases", len(records))

    removed = tenant_pool.remove_all(scratch_ledger, tmp_path)
    figures.add(SUITE, "tenants removed afterwards (in parallel)", len(removed))
    with tenants.connect(tenants.LEDGER, scratch_ledger) as conn:
        assert ledger.list_tenants(conn) == []
        assert tenants.server_counts(conn) == {"postgres-shared-1": (0, FIRST_CAPACITY),
                                               "postgres-shared-2": (0, SECOND_CAPACITY)}
    for server in SERVERS.values():
        assert _databases_on(server, {record.database for record in records.values()}) == set()
    assert _tenant_namespaces(core, names) == set()


# Each round races these runs (module state, plan) on one tenant, then converges it to the last
# pair with one more run and checks it.
RACES = (
    ("three first provisions", (("present", tenant_pool.SMALL),) * 3),
    ("provision, suspend and plan change",
     (("present", tenant_pool.SMALL), ("suspended", None), ("present", tenant_pool.MEDIUM), ("present", tenant_pool.SMALL))),
    ("suspend, resume and plan change",
     (("suspended", None), ("present", tenant_pool.MEDIUM), ("present", tenant_pool.MEDIUM), ("suspended", None))),
    ("resume racing a suspend", (("suspended", None), ("present", tenant_pool.SMALL), ("present", tenant_pool.SMALL))),
)


def _race_params(ledger_db, backup_dir, name, state, plan):
    # A suspend names no plan: it keeps the one the tenant has.
    return tenant_pool.params(ledger_db, backup_dir, name, state=state, plan=plan)


def _check_whole(core, ledger_db, name):
    """Whatever the last run was, the tenant is one consistent whole: one ledger row, its
    database and role on the server the ledger names (only there), the password in its
    Secret opens that database, and its namespace carries the plan the ledger records."""
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        record = ledger.get_tenant(conn, name)
        rows = conn.execute("SELECT count(*) FROM tenants WHERE name = %s", (name,)).fetchone()[0]
        hosts = {row[0] for row in conn.execute("SELECT host FROM tenant_hosts WHERE tenant = %s", (name,)).fetchall()}
    assert rows == 1 and record is not None
    assert hosts == set(record.hosts)
    for server_name, server in SERVERS.items():
        expected = {record.database} if server_name == record.server else set()
        assert _databases_on(server, {record.database}) == expected, server_name
        role = naming.role_for(name)
        assert _roles_on(server, {role}) == ({role} if expected else set()), server_name
    server = SERVERS[record.server]
    with psycopg.connect(host="127.0.0.1", port=server.port, user=naming.role_for(name), dbname=record.database,
                         password=tenant_pool.db_password(core, record.namespace), connect_timeout=5) as own:
        assert own.execute("SELECT current_database()").fetchone()[0] == record.database
    labels = core.read_namespace(record.namespace).metadata.labels
    assert labels["odoo-saas.io/plan"] == record.plan
    return record


def _replicas(apps, namespace):
    return {d.metadata.name: d.spec.replicas for d in apps.list_namespaced_deployment(namespace).items}


def test_runs_racing_on_one_tenant_never_corrupt_it(api, core, scratch_ledger, tmp_path, figures):
    apps = client.AppsV1Api(api)
    name = tenants.unique("race")
    for label, runs in RACES:
        outcomes = tenant_pool.run_all([_race_params(scratch_ledger, tmp_path, name, state, plan) for state, plan in runs],
                                       width=len(runs))
        figures.add(SUITE, "same-tenant race rounds", 1)
        figures.add(SUITE, "same-tenant runs raced", len(runs))
        figures.add(SUITE, "same-tenant runs that succeeded", sum(outcome.ok for outcome in outcomes))
        figures.add(SUITE, "same-tenant runs refused with an error", sum(bool(outcome.failure) for outcome in outcomes))
        assert not any(outcome.crashed for outcome in outcomes), (label, outcomes)
        assert any(outcome.ok for outcome in outcomes), (label, outcomes)
        _check_whole(core, scratch_ledger, name)

        state, plan = runs[-1]
        final = _race_params(scratch_ledger, tmp_path, name, state, plan)
        result, failure = tenants.tenant(final)
        assert failure is None, (label, failure)
        again, failure = tenants.tenant(final)
        assert failure is None and again["changed"] is False, (label, again.get("actions"))
        record = _check_whole(core, scratch_ledger, name)
        assert record.state == ("suspended" if state == "suspended" else "active"), label
        assert result["tenant"]["state"] == record.state
        if plan is not None:
            assert record.plan == plan, label
        wanted = 0 if state == "suspended" else 1
        assert set(_replicas(apps, record.namespace).values()) == {wanted}, label
        figures.add(SUITE, "same-tenant rounds left consistent", 1)
