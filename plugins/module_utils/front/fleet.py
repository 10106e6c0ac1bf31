# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many tenants in one run (the tenants module): every entry checked before anything is
touched, then each converged by the tenant module's own core, `parallel` at a time.

The fleet opens its connections once (engines/fleet_connections.py): without check mode it
takes every tenant's ledger lock first, in name order, and only then reads the cluster with one
LIST per kind and each shared server's catalog once for all its tenants; each tenant's run then
decides on those reads, answered object by object where they miss (a new tenant, an object
whose label was removed by hand), and writes, waits and re-reads as a single run does. A no-op
reconcile of the whole fleet thus costs a few requests, not a few per tenant. Most of a
provisioning is spent waiting for the cluster (init Job, rollout), which is why running
tenants side by side pays."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import time

from ..engines import ledger
from ..engines.fleet_connections import FleetConnections
from ..errors import SaasError, SpecError
from ..manifests.base import TENANT_LABEL
from ..manifests.tenant import TENANT_KINDS
from .harness import LEDGER_ERRORS, failure_message
from .tenant import check_tenant_params, run_tenant
from ..request import naming
from ..request.spec import load_platform
from .tenant_args import tenant_defaults

MAX_PARALLEL = 32
FLEET_OPTIONS = ("tenants", "parallel")


def tenant_params(params, entry):
    """One tenant's module parameters: the shared ones, its entry, the tenant defaults below."""
    merged = {key: value for key, value in params.items() if key not in FLEET_OPTIONS}
    merged.update(tenant_defaults())
    merged.update({key: value for key, value in entry.items() if value is not None})
    return merged


def check_entries(params, platform):
    """Every entry's problems, each naming tenants[index].option; duplicate names too."""
    problems, seen = [], {}
    for index, entry in enumerate(params.get("tenants") or []):
        if not isinstance(entry, dict):
            problems.append(f"tenants[{index}]: must be a mapping with at least a name, got {type(entry).__name__}")
            continue
        try:
            check_tenant_params(tenant_params(params, entry), platform)
        except SpecError as error:
            problems.append(f"tenants[{index}].{error.field}: {error.message}")
            continue
        name = entry["name"]
        if name in seen:
            problems.append(f"tenants[{index}].name: {name!r} is also tenants[{seen[name]}]; list each tenant once")
        seen.setdefault(name, index)
    return problems


def _parallel(params):
    parallel = params.get("parallel")
    parallel = 4 if parallel is None else parallel
    if not 1 <= parallel <= MAX_PARALLEL:
        raise SpecError("parallel", f"must be between 1 and {MAX_PARALLEL} (got {parallel})")
    return parallel


def _one(check_mode, tenant, fleet, diff, params):
    """One tenant's run on the fleet's connections; a failure of those (a ledger connection
    refused, the locks' session lost) fails this tenant, not the task's other results."""
    result, failure = {}, None
    try:
        fleet.check_locks()
        result, failure = run_tenant(tenant, check_mode, connections=fleet.member())
    except LEDGER_ERRORS + (SaasError,) as error:
        failure = failure_message(params, error)
    finally:
        try:
            fleet.release(tenant["name"], naming.namespace_for(tenant["name"]))
        except LEDGER_ERRORS as error:
            failure = failure or failure_message(params, error)
    entry = {"name": tenant["name"], "changed": result.get("changed", False), "failed": failure is not None,
             "tenant": result.get("tenant"), "actions": result.get("actions", []),
             "api_requests": result.get("api_requests", {}), "steps": result.get("steps", [])}
    if failure:
        entry["msg"] = failure
    return entry, (result.get("diff") or []) if diff else []


def _open_fleet(params, runs, check_mode, say):
    """The fleet's connections, its tenants locked (without check mode) and their catalogs read."""
    fleet = FleetConnections(params, TENANT_LABEL, [naming.namespace_for(tenant["name"]) for tenant in runs])
    try:
        names = [tenant["name"] for tenant in runs]
        if not check_mode:
            say(f"taking the ledger locks of {len(names)} tenant(s); a tenant another run is changing is waited for")
            fleet.lock(names)
        wanted = set(names)
        placed = {}
        for record in ledger.list_tenants(fleet.session):
            if record.name in wanted and record.db_strategy == "shared" and record.server:
                placed.setdefault(record.server, []).append((naming.role_for(record.name), record.database))
        fleet.preload_catalogs(placed)
        say(f"reading the fleet: one LIST per kind of tenant object, {len(TENANT_KINDS)} kinds")
        fleet.prefetched.prefetch(fleet.kube, TENANT_KINDS)
        return fleet
    except BaseException:
        fleet.close()
        raise


def run_fleet(params, check_mode, progress=None, diff=True):
    """Returns (result, failure message or None), like front.tenant.run_tenant. diff: whether to
    keep the tenants' diffs (Ansible's --diff); without, a large fleet's result stays small."""
    result = {"changed": False, "tenants": [], "diff": [], "api_requests": {},
              "summary": {"changed": [], "unchanged": [], "failed": []}}
    started = time.monotonic()

    def say(message):
        if progress:
            progress(f"[{time.monotonic() - started:5.1f}s] {message}")

    try:
        platform = load_platform(params)
        parallel = _parallel(params)
        problems = check_entries(params, platform)
        if problems:
            raise SpecError("tenants", f"{len(problems)} problem(s), nothing was changed: " + "; ".join(problems))
        runs = [tenant_params(params, entry) for entry in params.get("tenants") or []]
        fleet = _open_fleet(params, runs, check_mode, say) if runs else None
    except LEDGER_ERRORS + (SaasError,) as error:
        return result, failure_message(params, error)
    outcomes = []
    if fleet is not None:
        try:
            say(f"converging {len(runs)} tenant(s), {parallel} at a time")
            with ThreadPoolExecutor(max_workers=min(parallel, len(runs))) as pool:
                outcomes = list(pool.map(lambda tenant: _one(check_mode, tenant, fleet, diff, params), runs))
        finally:
            fleet.close()
    requests = Counter(fleet.kube.requests if fleet is not None else {})
    for entry, diff in outcomes:
        result["tenants"].append(entry)
        result["diff"].extend(diff)
        requests.update(entry["api_requests"])
        kind = "failed" if entry["failed"] else "changed" if entry["changed"] else "unchanged"
        result["summary"][kind].append(entry["name"])
    result["changed"] = bool(result["summary"]["changed"]) or any(e["changed"] for e, _diff in outcomes)
    result["api_requests"] = dict(sorted(requests.items()))
    failed = [entry for entry, _diff in outcomes if entry["failed"]]
    if not failed:
        return result, None
    listed = "; ".join(f"{entry['name']}: {entry['msg']}" for entry in failed[:10])
    return result, (f"{len(failed)} of {len(runs)} tenant(s) failed ({listed}). The others were converged; "
                    "fix the cause and run again: converged tenants are left as they are.")
