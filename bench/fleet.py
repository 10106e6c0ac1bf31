"""Benchmark 6, the fleet in one task: for each size N, N tenants provisioned by the tenants
module's core in one call (front/fleet.run_fleet, `parallel` at a time), the no-op reconcile of
all N in one call, tenant_info over all N, then the removal of all N in one call (parallel 32).

Each of the three runs in a child process of its own (python -m bench.fleet), as a module runs
under Ansible, so that its peak RSS is its own; the child reports its wall time (from the call,
without the interpreter's start), the module's API requests, the objects it wrote and the SQL it
ran. Every tenant goes on the two shared servers of a scratch ledger registered with room for
the fleet (a capacity of half the fleet each and no connection budget: the bench's own choice,
the servers' max_connections would stop a fleet of `small` tenants near 25 per server). The
kwok nodes the fleet's pods need beyond the platform's three are added for the run and removed
after it."""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.cluster import bootstrap, control_plane, postgres
from tests.integration import tenants

from . import cleanup, sides
from .sides import BenchError

PODS_PER_TENANT = 2  # web and cron; the init Job's pod is done before the next tenant's starts to count
BENCH_NODE_FIRST_INDEX = 11  # pod CIDRs 127.1.11.0/24 and up (the platform's nodes hold 1-3)
BENCH_NODE_PODS = 110
REMOVAL_PARALLEL = 32  # the tenants module's most: a removal waits on the namespace controller
DISK_PER_TENANT_MIB = 12  # a new database (a copy of template0, ~7.5 MiB) and its WAL
# The platform's growth a tenant (API server, etcd, the shared servers' backends) and the module's
# peak, with room to spare: see docs/performance.md, benchmark 6, for what a run measured.
MEMORY_PER_TENANT_MIB = 8
MEMORY_MODULE_MIB = 1024


def scratch_ledger(size):
    return sides.scratch_ledger(max(50, math.ceil(size / 2)))


def _child(operation, module_params):
    """One run in a child process; returns its report (seconds, api_requests, writes, sql, rss_mib...)."""
    process = subprocess.run([sys.executable, "-m", "bench.fleet", operation], input=json.dumps(module_params),
                             capture_output=True, text=True, check=False, cwd=sides.REPO, timeout=3600,
                             env=dict(os.environ, PYTHONPATH=f"{sides.REPO / 'collections'}:{sides.REPO}"))
    try:
        report = json.loads(process.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"the {operation} child printed no report (exit {process.returncode}): "
                         f"{process.stderr[-2000:]}") from None
    if report.get("failure"):
        raise BenchError(f"{operation}: {report['failure'][:2000]}")
    return report


def _ensure_nodes(api, size, say):
    """kwok nodes enough for the fleet's pods; returns the names of those added."""
    needed = PODS_PER_TENANT * size + 10
    free = api.free_pods()
    if free >= needed:
        return []
    count = math.ceil((needed - free) / BENCH_NODE_PODS)
    names = [f"bench-node-{BENCH_NODE_FIRST_INDEX + i}" for i in range(count)]
    say(f"6. adding {count} kwok node(s) for {needed} pods ({free} free)")
    bootstrap.add_nodes(control_plane.layout().kubeconfig,
                        [(BENCH_NODE_FIRST_INDEX + i, name) for i, name in enumerate(names)])
    return names


def mem_available_mib():
    """What the kernel says can still be allocated without swapping (MemAvailable)."""
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    raise BenchError("/proc/meminfo has no MemAvailable")


def check_fits(fleet_sizes, directory=None, available_mib=None):
    """Refuses, before anything is made, a fleet whose databases the disk holding the shared
    servers' data cannot hold, or whose objects and backends the memory cannot."""
    largest = max(fleet_sizes)
    directory = directory or postgres.data_root()
    stat = os.statvfs(directory)
    free_mib = stat.f_bavail * stat.f_frsize / 2**20
    if free_mib < 2 * DISK_PER_TENANT_MIB * largest:
        raise BenchError(f"--fleet {largest} needs about {DISK_PER_TENANT_MIB * largest} MiB for its databases in "
                         f"{directory} (twice that free, to be safe); {free_mib:.0f} MiB are free: choose smaller sizes "
                         "or free some disk")
    available_mib = mem_available_mib() if available_mib is None else available_mib
    needed_mib = MEMORY_PER_TENANT_MIB * largest + MEMORY_MODULE_MIB
    if available_mib < needed_mib:
        raise BenchError(f"--fleet {largest} needs about {needed_mib:.0f} MiB of memory (the platform's growth with the "
                         f"fleet and the module); {available_mib:.0f} MiB are available: choose smaller sizes or stop "
                         "what else runs")


STARTUP_RUNS = 5


def startup(module_params):
    """The module's start-up, STARTUP_RUNS times (bench/startup.py): the medians, in seconds."""
    reports = []
    for _index in range(STARTUP_RUNS):
        process = subprocess.run([sys.executable, "-m", "bench.startup"], input=json.dumps(module_params),
                                 capture_output=True, text=True, check=False, cwd=sides.REPO, timeout=300,
                                 env=dict(os.environ, PYTHONPATH=f"{sides.REPO / 'collections'}:{sides.REPO}"))
        try:
            report = json.loads(process.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BenchError(f"bench.startup printed no report (exit {process.returncode}): {process.stderr[-2000:]}") from None
        if report["failure"]:
            raise BenchError(f"bench.startup: {report['failure'][:2000]}")
        reports.append(report)
    return {key: statistics.median(report[key] for report in reports) for key in ("imported_s", "first_request_s", "run_s")}


def run(run_id, fleet_sizes, parallel, api, say):
    """Returns one dict of figures per size."""
    check_fits(fleet_sizes)
    figures = []
    for size in fleet_sizes:
        ledger_db = scratch_ledger(size)
        backup_dir = Path(f"/tmp/bench-fleet-{run_id}-{size}")
        names = sides.names(run_id, f"n{size}", size)
        added = []
        try:
            added = _ensure_nodes(api, size, say)
            fleet = sides.params(ledger_db, str(backup_dir), tenants=[{"name": name, "plan": sides.PLAN} for name in names],
                                 parallel=parallel)
            say(f"6. N={size}: provisioning in one task (parallel {parallel})")
            available_before = mem_available_mib()
            provision = _child("fleet", fleet)
            provision["platform_growth_mib"] = available_before - mem_available_mib()
            say(f"   {provision['seconds']:.1f}s, {provision['requests']} API requests, {provision['rss_mib']:.0f} MiB; "
                f"the machine's available memory fell by {provision['platform_growth_mib']:.0f} MiB")
            say(f"6. N={size}: the no-op reconcile in one task")
            noop = _child("fleet", fleet)
            say(f"   {noop['seconds']:.2f}s, {noop['requests']} API requests, {noop['writes']} writes, {noop['sql']} SQL")
            if noop["changed"]:
                raise BenchError(f"the no-op reconcile of {size} tenants changed something: {noop['changed_tenants'][:5]}")
            if size == fleet_sizes[0]:
                say(f"6. module start-up: tenant_info for one tenant, {STARTUP_RUNS} times")
                started_up = startup(dict({k: v for k, v in fleet.items() if k not in ("tenants", "parallel")}, name=names[0]))
                say(f"   imports done {started_up['imported_s']:.2f}s, first API request {started_up['first_request_s']:.2f}s "
                    "after the process started (medians)")
            say(f"6. N={size}: tenant_info over all")
            info = _child("info", {k: v for k, v in fleet.items() if k not in ("tenants", "parallel")})
            say(f"   {info['seconds']:.2f}s, {info['requests']} API requests, {info['described']} described")
            if info["described"] != size or info["drift"]:
                raise BenchError(f"tenant_info over {size} tenants: {info['described']} described, drift {info['drift'][:5]}")
            say(f"6. N={size}: the removal in one task (parallel {REMOVAL_PARALLEL})")
            removal = _child("fleet", dict(fleet, parallel=REMOVAL_PARALLEL, tenants=[
                {"name": name, "state": "absent", "confirm": name, "backup": False} for name in names]))
            say(f"   {removal['seconds']:.1f}s, {removal['requests']} API requests")
            figures.append({"tenants": size, "parallel": parallel, "provision": provision, "noop": noop, "info": info,
                            "removal": removal, "startup": started_up if size == fleet_sizes[0] else None})
        finally:
            say(f"   removing what is left of the {size} tenant(s)")
            started = time.monotonic()
            failures = cleanup.remove_ours(names, ledger_db, str(backup_dir))
            say(f"   done in {time.monotonic() - started:.0f}s" + (f"; failures: {failures[:3]}" if failures else ""))
            if added:
                bootstrap.remove_nodes(control_plane.layout().kubeconfig, added)
            tenants.drop_ledger(ledger_db)
    return figures


def table_rows(figures):
    rows = []
    for figure in figures:
        size = figure["tenants"]
        for what, report in (("provision, one task", figure["provision"]), ("no-op reconcile, one task", figure["noop"]),
                             ("tenant_info, all", figure["info"]), ("removal, one task", figure.get("removal"))):
            if report is None:
                continue
            rows.append([str(size), what, f"{report['seconds']:.2f}", f"{1000 * report['seconds'] / size:.1f}",
                         str(report["requests"]), str(report.get("writes", 0)), str(report.get("sql", 0)),
                         f"{report['rss_mib']:.0f}"])
    return rows


# --- the child: one module core call, measured --------------------------------------------------------

def _report(operation, module_params):
    from ansible_collections.odoo_saas.kit.plugins.module_utils.front.fleet import run_fleet
    from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info

    started = time.monotonic()
    if operation == "fleet":
        result, failure = run_fleet(module_params, False, diff=False)  # as under Ansible without --diff
    else:
        result, failure = run_tenant_info(module_params)
    seconds = time.monotonic() - started
    report = {"seconds": seconds, "failure": failure, "api_requests": result.get("api_requests") or {},
              "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    report["requests"] = sum(report["api_requests"].values())
    if operation == "fleet":
        actions = [action for entry in result["tenants"] for action in entry["actions"]]
        report.update(changed=result["changed"], changed_tenants=result["summary"]["changed"],
                      writes=sum(action.startswith(("created ", "updated ", "deleted ", "scaled ")) for action in actions),
                      sql=sum(action.startswith("SQL on ") for action in actions))
    else:
        report.update(described=len(result["tenants"]),
                      drift=[f"{t['name']}: {line}" for t in result["tenants"] for line in t.get("drift") or []])
    return report


if __name__ == "__main__":
    print(json.dumps(_report(sys.argv[1], json.load(sys.stdin)), default=str))
