# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger module's entry: the ledger's schema migrated, the platform's servers and
policies registered."""

from __future__ import annotations

from contextlib import closing

from ..engines import ledger, pg
from ..engines.connections import ledger_connection, shared_servers
from ..operations import platform
from ..request.plan_fit import plan_problems
from ..request.plans import load_plans
from .harness import guarded


def run_ledger(params, check_mode):
    result = {"changed": False, "migrations": [], "servers": {}}

    def body(opened):
        capacity = params.get("shared_server_capacity") or 50
        servers = shared_servers(params)
        conn = opened.enter_context(closing(pg.connect(ledger_connection(params))))
        applied = ledger.migrate(conn, check_mode)
        result["migrations"] = [f"{version}: {description}" for version, description in applied]
        if check_mode and applied:
            result["changed"] = True
            return  # the tables do not exist yet: nothing more to compare
        changed = bool(applied)
        changed |= platform.register_servers(conn, servers, capacity, check_mode)
        plans = load_plans(params["plans"]) if params.get("plans") else {}
        warnings = [f"{problem} (tenants on this plan cannot be provisioned or changed)" for problem in plan_problems(plans)]
        filled, unknown_plans = platform.fill_connection_limits(conn, plans, check_mode)
        changed |= filled
        warnings += unknown_plans
        result["servers"] = {name: usage.as_dict() for name, usage in ledger.server_usage(conn).items()}
        if params.get("kubeconfig") or params.get("host"):
            policies, result["server_policies"] = platform.apply_server_policies(params, servers, check_mode)
            changed |= policies
        result["changed"] = changed
        if warnings:
            result["warnings"] = warnings

    return result, guarded(params, body)
