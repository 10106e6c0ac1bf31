# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's own records and policies, kept in step with its settings: the shared servers
registered in the ledger with their connection budgets, the plans' connection limits on
tenants that predate them, and each shared server's NetworkPolicy."""

from __future__ import annotations

from types import SimpleNamespace

from ..engines import ledger, pg
from ..engines.connections import connect_kube
from ..errors import SaasError
from ..manifests import tenant as manifests


def connection_budget(admin):
    """The server's own max_connections and reserve (it is the one source of both)."""
    conn = pg.connect(admin)
    try:
        return pg.connection_budget(conn)
    finally:
        conn.close()


def register_servers(conn, servers, capacity, check_mode):
    """Each shared server in the ledger with its capacity and connection budget; True if any changed."""
    changed = False
    for name, server in servers.items():
        max_connections, reserved = connection_budget(server.admin)
        changed |= ledger.register_server(conn, name, server.admin.host, server.admin.port, capacity,
                                          max_connections=max_connections, reserved_connections=reserved,
                                          check_mode=check_mode)
    return changed


def fill_connection_limits(conn, plans, check_mode):
    """Tenants recorded before connection limits were: theirs from their plan. Returns
    (changed, warnings about tenants whose plan is gone)."""
    limits = {plan.name: plan.db_connection_limit for plan in plans.values()}
    filled, unknown = ledger.fill_connection_limits(conn, limits, check_mode)
    warnings = [f"tenant {name}'s plan {plan!r} is not in plans: its connections are not counted in its "
                "server's budget until it runs with a plan again" for name, plan in unknown]
    return bool(filled), warnings


def apply_server_policies(params, servers, check_mode):
    """Each shared server's namespace admits PostgreSQL traffic from tenant namespaces (and the
    platform namespace) only. Returns (changed, {server: action})."""
    platform_namespace = SimpleNamespace(platform_namespace=params.get("platform_namespace") or "saas-system")
    kube = connect_kube(params)
    try:
        actions = {}
        for name in servers:
            if kube.get("v1", "Namespace", name) is None:
                raise SaasError(f"namespace {name} of shared server {name} does not exist: "
                                "playbooks/platform.yml creates it before registering the server")
            actions[name] = kube.apply(manifests.shared_server_policy(name, platform_namespace), check_mode).action
        return any(action != "unchanged" for action in actions.values()), actions
    finally:
        kube.close()
