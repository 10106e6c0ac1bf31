"""Parallel provisions never put more tenants on a shared server than its capacity, and the
ones that find no room leave nothing behind."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger

from . import tenants


def test_more_parallel_provisions_than_the_servers_hold(core, tmp_path):
    ledger_db = tenants.create_ledger(capacity=3)
    try:
        names = [tenants.unique("par") for _count in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            children = list(pool.map(
                lambda name: tenants.tenant_in_subprocess(tenants.params(ledger_db, tmp_path, name=name, plan="small")), names))
        outcomes = {name: json.loads(child.stdout) for name, child in zip(names, children)}
        failed = {name: out["failure"] for name, out in outcomes.items() if out["failure"]}
        assert len(failed) == 2, failed
        assert all("every shared PostgreSQL server is full" in message for message in failed.values())
        with tenants.connect(tenants.LEDGER, ledger_db) as conn:
            assert tenants.server_counts(conn) == {"postgres-shared-1": (3, 3), "postgres-shared-2": (3, 3)}
            for name in failed:
                assert ledger.get_tenant(conn, name) is None
        for name in failed:
            assert core.list_namespace(field_selector=f"metadata.name=tenant-{name}").items == []
    finally:
        tenants.remove_all(ledger_db, tmp_path)
        tenants.drop_ledger(ledger_db)


def test_two_runs_on_the_same_tenant_at_once_converge(tmp_path):
    ledger_db = tenants.create_ledger()
    name = tenants.unique("twin")
    try:
        module_params = tenants.params(ledger_db, tmp_path, name=name, plan="small")
        with ThreadPoolExecutor(max_workers=2) as pool:
            children = list(pool.map(lambda _run: tenants.tenant_in_subprocess(module_params), range(2)))
        outcomes = [json.loads(child.stdout) for child in children]
        assert any(out["failure"] is None for out in outcomes), outcomes
        result, failure = tenants.tenant(module_params)
        assert failure is None and result["tenant"]["state"] == "active"
        assert tenants.tenant(module_params)[0]["changed"] is False
    finally:
        tenants.remove_all(ledger_db, tmp_path)
        tenants.drop_ledger(ledger_db)
