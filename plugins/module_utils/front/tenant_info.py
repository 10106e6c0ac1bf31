# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant_info module's entry: health and drift of one tenant or all, read only."""

from __future__ import annotations

from contextlib import closing

from ..engines import ledger
from ..engines.connections import open_connections
from ..operations.info import tenants_info
from ..operations.run import Run
from ..request.naming import check_tenant_name
from ..request.spec import load_platform
from .harness import guarded


def run_tenant_info(params):
    result = {"changed": False, "tenants": [], "orphan_namespaces": [], "servers": {}, "api_requests": {}}

    def body(opened):
        platform = load_platform(params)
        if params.get("name"):
            check_tenant_name(params["name"])
        connections = opened.enter_context(closing(open_connections(params)))
        run = Run(connections, platform, check_mode=True)
        result["tenants"], result["orphan_namespaces"] = tenants_info(run, params.get("name"))
        result["servers"] = {name: usage.as_dict() for name, usage in ledger.server_usage(connections.ledger).items()}
        result["api_requests"] = dict(sorted(connections.kube.requests.items()))

    return result, guarded(params, body)
