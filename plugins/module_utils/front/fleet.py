# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many tenants in one run (the tenants module): every entry checked before anything is
touched, then each converged by the tenant module's own core, `parallel` at a time.

Each tenant runs with its own API and database connections, so the ledger's row locks keep
concurrent placements apart exactly as they do for separate runs; most of a run is spent
waiting for the cluster (init Job, rollout, namespace termination), which is why running
them side by side pays.

Each tenant reads its own objects after it holds its ledger lock, as a separate run does. A LIST
per kind shared by the fleet (engines/kube_snapshot.py, what tenant_info uses) would be read
before that lock: a run that suspended or removed a tenant in between would leave the fleet
deciding on what the tenant no longer is."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from ..errors import SaasError, SpecError
from .harness import failure_message
from .tenant import check_tenant_params, run_tenant
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


def _one(check_mode, tenant):
    result, failure = run_tenant(tenant, check_mode)
    entry = {"name": tenant["name"], "changed": result.get("changed", False), "failed": failure is not None,
             "tenant": result.get("tenant"), "actions": result.get("actions", []),
             "api_requests": result.get("api_requests", {}), "steps": result.get("steps", [])}
    if failure:
        entry["msg"] = failure
    return entry, result.get("diff") or []


def run_fleet(params, check_mode):
    """Returns (result, failure message or None), like front.tenant.run_tenant."""
    result = {"changed": False, "tenants": [], "diff": [], "api_requests": {},
              "summary": {"changed": [], "unchanged": [], "failed": []}}
    try:
        platform = load_platform(params)
        parallel = _parallel(params)
        problems = check_entries(params, platform)
        if problems:
            raise SpecError("tenants", f"{len(problems)} problem(s), nothing was changed: " + "; ".join(problems))
    except SaasError as error:
        return result, failure_message(params, error)
    runs = [tenant_params(params, entry) for entry in params.get("tenants") or []]
    with ThreadPoolExecutor(max_workers=min(parallel, len(runs) or 1)) as pool:
        outcomes = list(pool.map(lambda tenant: _one(check_mode, tenant), runs))
    requests = Counter()
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
