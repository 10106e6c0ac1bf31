"""Odoo's database contract on the real shared servers (pg_hba.conf and settings rendered from
roles/postgres_shared, as production runs them): with the credentials of each tenant's own
odoo.conf, what Odoo does at start and while running must work, and nothing more.

Odoo itself does not run here; odoo_database_contract replays its calls (see its docstring).
"""

from __future__ import annotations

import psycopg
import pytest

from . import odoo_database_contract as odoo
from . import tenants

pytestmark = pytest.mark.alone  # see tests/conftest.py


@pytest.fixture(scope="module")
def provisioned(ledger_db, tmp_path_factory):
    """A small tenant (threaded Odoo) and a medium one (3 workers), each on a shared server."""
    backups = tmp_path_factory.mktemp("backups")
    names = {}
    for plan in ("small", "medium"):
        name = tenants.unique(f"odb-{plan[0]}")
        result, failure = tenants.tenant(tenants.params(ledger_db, backups, name=name, plan=plan))
        assert failure is None, failure
        assert result["tenant"]["database"]["strategy"] == "shared"
        names[plan] = name
    return names


@pytest.fixture(scope="module")
def configs(core, provisioned):
    return {plan: odoo.read_config(core, f"tenant-{name}") for plan, name in provisioned.items()}


@pytest.mark.parametrize("plan", ["small", "medium"])
def test_odoo_finds_its_database_through_postgres_and_a_create_is_a_privilege_error(configs, plan):
    # 42501 insufficient_privilege: Odoo logs "Could not determine if database exists" and goes on.
    assert odoo.start(configs[plan]) == "42501"


@pytest.mark.parametrize("plan", ["small", "medium"])
def test_cron_listen_and_bus_notify_go_through_postgres(configs, plan):
    config = configs[plan]
    assert sorted(odoo.listen_and_notify(config)) == sorted([(odoo.BUS_CHANNEL, '["broadcast"]'),
                                                            (odoo.CRON_CHANNEL, config.database)])


@pytest.mark.parametrize("plan", ["small", "medium"])
def test_every_pool_of_every_pod_fits_the_role_limit_at_once(api, configs, provisioned, plan):
    config = configs[plan]
    pools = odoo.pool_sizes(odoo.live_workloads(api, f"tenant-{provisioned[plan]}"), config)
    total = pools["web"] + pools["cron"] + pools["init"]
    with config.connect() as own:
        limit = own.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    assert 0 < total <= limit, pools
    assert odoo.hold(config, total, listeners=pools["cron_threads"]) == total
    # The role's limit is real: one connection past it is refused, to `postgres` as well.
    assert odoo.hold(config, limit, listeners=pools["cron_threads"]) == limit
    with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
        odoo.hold(config, limit + 1, listeners=limit)


def test_other_tenants_databases_and_templates_stay_refused(configs):
    small, medium = configs["small"], configs["medium"]
    for config, other in ((small, medium), (medium, small)):
        # pg_hba is checked before the database is looked up: same answer on either server.
        assert "no pg_hba.conf entry" in odoo.refused_connection(config, other.database)
        for database in ("template1", "saas_ledger"):
            assert "no pg_hba.conf entry" in odoo.refused_connection(config, database)


def test_a_tenant_role_reaches_another_tenants_database_on_no_server(configs):
    """Even with pg_hba passed (as a superuser could rewrite it), CONNECT is revoked from PUBLIC:
    the second fence, checked by catalog."""
    for config in configs.values():
        with config.connect() as own:
            granted = own.execute(
                "SELECT datname FROM pg_database WHERE has_database_privilege(current_user, oid, 'CONNECT') "
                "AND datname NOT IN ('postgres', 'template1', 'template0') ORDER BY 1").fetchall()
        assert granted == [(config.database,)]
