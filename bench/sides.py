"""The sides of benchmarks 1 and 2: odoo_saas.kit.tenant through ansible-playbook (bench/ours.yml),
the usual kubernetes.core/community.postgresql playbook (bench/baseline/), and our core in
process (front.tenant.run_tenant, the module's own code path). Module parameters come from
tests/integration/tenants.py, against the benchmark's scratch ledger."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations import credentials
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.connections import shared_servers
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import build_spec, load_platform
from tests.integration import tenants
from tests.unit.plans_fixture import raw_plans

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OURS_PLAYBOOK = BENCH / "ours.yml"
FLEET_PLAYBOOK = BENCH / "ours_fleet.yml"
BASELINE_PLAYBOOK = BENCH / "baseline" / "provision.yml"
BASELINE_PARALLEL_PLAYBOOK = BENCH / "baseline" / "provision_parallel.yml"
BASELINE_TASKS = BENCH / "baseline" / "tenant.yml"

# The `small` plan with smaller CPU and memory requests, so that the benchmark's tenants fit
# the three kwok nodes (48 CPU, 192 GiB, 330 pods); the objects have the same shape as `small`'s.
PLAN = "bench"
CAPACITY = 1000  # tenants per shared server in the scratch ledger: every tenant lands on the first
SERVER = tenants.SHARED_1
# tenants.params() keys that are options of the tenant module, not of the platform group.
TENANT_OPTIONS = ("name", "state", "db_strategy", "domains", "odoo_version", "wait", "wait_timeout", "backup", "confirm")


class BenchError(Exception):
    """A side failed: the benchmark stops (and still removes what it created)."""


def plans():
    raw = raw_plans()
    raw[PLAN] = dict(raw["small"], cpu="100m", memory="512Mi")
    return raw


def scratch_ledger(capacity):
    """A scratch ledger whose two shared servers take `capacity` tenants each, with no connection
    budget: the bench's choice (the servers' max_connections 500 would stop tenants of the
    bench's plan, 20 connections each, near 24 per server; kwok runs no Odoo to use them)."""
    name = tenants.create_ledger(capacity=capacity)
    with tenants.connect(tenants.LEDGER, name) as conn:
        for server in (tenants.SHARED_1, tenants.SHARED_2):
            ledger.register_server(conn, server.name, "127.0.0.1", server.port, capacity, max_connections=None)
    return name


def params(ledger_db, backup_dir, **overrides):
    """Module parameters for one tenant (tenants.params with the benchmark's plan and capacity)."""
    return tenants.params(ledger_db, backup_dir, plans=plans(), shared_server_capacity=CAPACITY, **overrides)


def platform_defaults(ledger_db, backup_dir, **overrides):
    """What a playbook passes to group/odoo_saas.kit.platform."""
    return {k: v for k, v in params(ledger_db, backup_dir, **overrides).items() if k not in TENANT_OPTIONS}


def names(run_id, side, count):
    """Tenant names of one side of one run: bk<run>-<side>-<index>."""
    return [f"bk{run_id}-{side}-{index}" for index in range(count)]


@dataclass
class SideRun:
    """One side's run over N tenants."""

    side: str
    tenants: int
    seconds: float
    parallel: int = 1  # tenants converging at once: a side is compared with the other side's at the same
    baseline: bool = False
    module_requests: Counter = field(default_factory=Counter)  # ours: the module's api_requests, summed
    client: Counter = field(default_factory=Counter)  # requests counted at the proxy (measure.CountingProxy)
    objects_written: int = 0  # ours: objects created or updated; theirs: k8s tasks reporting changed
    sql: int = 0  # statements executed: ours, "SQL ..." actions; theirs, the modules' queries
    changed_tasks: Counter = field(default_factory=Counter)  # module -> results reporting changed
    api: Counter = field(default_factory=Counter)  # the API server's counters: every client (measure.Window)
    writes: int | None = None  # objects whose generation/resourceVersion changed (no-op runs)
    catalog_rows: int | None = None  # pg_authid/pg_database rows rewritten (no-op runs)

    @property
    def per_tenant(self):
        return self.seconds / self.tenants


# --- running playbooks ------------------------------------------------------------------------------

def run_playbook(playbook, extra_vars, workdir, inventory="inventories/local", forks=None):
    """ansible-playbook with the JSON callback; returns (seconds, per-task results)."""
    vars_file = Path(workdir) / "extra-vars.json"
    with open(os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(extra_vars, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0")
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook),
               "-e", f"@{vars_file}"] + (["--forks", str(forks)] if forks else [])
    started = time.monotonic()
    process = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    vars_file.unlink()
    if process.returncode == 99:  # ansible-playbook's "User interrupted execution" (Ctrl-C reached it first)
        raise KeyboardInterrupt
    try:
        output = json.loads(process.stdout[process.stdout.index("{"):])
    except ValueError:
        raise BenchError(f"{playbook.name} printed no JSON (exit {process.returncode}): {process.stderr[-2000:]}") from None
    results = []
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            for result in task.get("hosts", {}).values():
                for item in result.get("results") or [result]:
                    results.append((task["task"]["name"], result.get("action"), item))
    failed = [(name, item.get("msg")) for name, _action, item in results if item.get("failed")]
    if process.returncode != 0 or failed:
        raise BenchError(f"{playbook.name} failed (exit {process.returncode}): {failed[:3] or process.stderr[-2000:]}")
    return seconds, results


def ours(tenant_names, ledger_db, backup_dir, workdir, kubeconfig):
    """odoo_saas.kit.tenant in a loop over the tenants (provision, or re-run when they exist)."""
    seconds, results = run_playbook(OURS_PLAYBOOK, {
        "bench_platform": platform_defaults(ledger_db, backup_dir, kubeconfig=kubeconfig), "bench_plan": PLAN,
        "bench_tenants": tenant_names}, workdir)
    run = SideRun("ours", len(tenant_names), seconds)
    for _name, action, item in results:
        if action != "odoo_saas.kit.tenant":
            continue
        _add_module_result(run, item)
        run.changed_tasks[action] += bool(item.get("changed"))
    return run


def ours_fleet(tenant_names, ledger_db, backup_dir, workdir, kubeconfig, parallel):
    """odoo_saas.kit.tenants: all the tenants in one task, `parallel` at a time."""
    seconds, results = run_playbook(FLEET_PLAYBOOK, {
        "bench_platform": platform_defaults(ledger_db, backup_dir, kubeconfig=kubeconfig),
        "bench_entries": [{"name": name, "plan": PLAN} for name in tenant_names], "bench_parallel": parallel}, workdir)
    run = SideRun(f"ours, one task ({parallel} at once)", len(tenant_names), seconds, parallel=parallel)
    for _name, action, item in results:
        if action != "odoo_saas.kit.tenants":
            continue
        for tenant in item.get("tenants") or []:
            _add_module_result(run, tenant)
            run.changed_tasks[action] += bool(tenant.get("changed"))
        # The task's own count: its tenants' requests and the fleet's LISTs.
        run.module_requests = Counter(item.get("api_requests") or {})
    return run


def _add_module_result(run, result):
    run.module_requests.update(result.get("api_requests") or {})
    actions = result.get("actions") or []
    run.sql += sum(action.startswith("SQL") for action in actions)
    run.objects_written += sum(action.split(" ", 1)[0] in ("created", "updated") for action in actions)


def object_key(obj):
    """How tenant.yml names an object: namespace, or <kind>_<name>."""
    if obj["kind"] == "Namespace":
        return "namespace"
    return f"{obj['kind']}_{obj['metadata']['name']}".lower().replace("-", "_")


def baseline_tenant(name, ledger_db, backup_dir):
    """The tenant's objects from manifests.tenant_objects (as our module would build them on the
    same server) and its role and database settings, for bench/baseline/tenant.yml."""
    module_params = params(ledger_db, backup_dir, name=name, plan=PLAN)
    platform = load_platform(module_params)
    spec = build_spec(module_params, platform)
    server = shared_servers(module_params)[SERVER.name]
    target = manifests.DatabaseTarget(server=SERVER.name, host=server.cluster_host, port=server.cluster_port,
                                      name=spec.database, user=spec.role, namespace=SERVER.name)
    secrets = credentials.generate(dedicated=False)
    objects = manifests.tenant_objects(spec, platform, target, secrets)
    keyed = {object_key(obj): obj for obj in objects}
    tasks = set(re.findall(r"tenant\.objects\.(\w+)", BASELINE_TASKS.read_text()))
    if len(keyed) != len(objects) or set(keyed) != tasks:
        raise BenchError(f"bench/baseline/tenant.yml does not have one task per object of a tenant: objects "
                         f"{sorted(keyed)}, tasks {sorted(tasks)}")
    return {"name": name, "namespace": spec.namespace, "role": spec.role, "database": spec.database,
            "password": secrets.db_password, "connection_limit": spec.plan.db_connection_limit, "objects": keyed}


def write_baseline_vars(tenant_names, ledger_db, backup_dir, workdir):
    """One vars file per tenant (kept for the re-run: same objects, same password)."""
    files = []
    for name in tenant_names:
        path = Path(workdir) / f"{name}.json"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            json.dump(baseline_tenant(name, ledger_db, backup_dir), handle)
        files.append(str(path))
    return files


def _baseline_vars(kubeconfig):
    return {"bench_kubeconfig": kubeconfig,
            "bench_server": {"host": "127.0.0.1", "port": SERVER.port, "user": "postgres", "password": SERVER.password()}}


def _baseline_run(side, tenant_count, seconds, results, parallel=1):
    run = SideRun(side, tenant_count, seconds, parallel=parallel, baseline=True)
    for _name, action, item in results:
        if not action or not action.startswith(("kubernetes.core.", "community.postgresql.")):
            continue
        run.changed_tasks[action] += bool(item.get("changed"))
        if action == "kubernetes.core.k8s":
            run.objects_written += bool(item.get("changed"))
        run.sql += len(item.get("queries") or item.get("executed_commands") or [])
    return run


def theirs(tenant_files, workdir, kubeconfig):
    """bench/baseline/provision.yml over the tenants' vars files, one tenant after another."""
    seconds, results = run_playbook(BASELINE_PLAYBOOK, dict(_baseline_vars(kubeconfig), bench_tenant_files=tenant_files),
                                    workdir)
    return _baseline_run("kubernetes.core", len(tenant_files), seconds, results)


def theirs_parallel(tenant_files, workdir, kubeconfig, parallel):
    """bench/baseline/provision_parallel.yml: one inventory host per tenant, `parallel` forks."""
    inventory = Path(workdir) / "baseline-hosts.json"
    hosts = {Path(path).stem: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                               "bench_tenant_file": path} for path in tenant_files}
    inventory.write_text(json.dumps({"all": {"children": {"bench_tenants": {"hosts": hosts}}}}), encoding="utf-8")
    seconds, results = run_playbook(BASELINE_PARALLEL_PLAYBOOK, _baseline_vars(kubeconfig), workdir,
                                    inventory=inventory, forks=parallel)
    return _baseline_run(f"kubernetes.core, forks {parallel}", len(tenant_files), seconds, results, parallel=parallel)


# --- our core, in process -----------------------------------------------------------------------------

def core(tenant_names, ledger_db, backup_dir, kubeconfig=None, on_tenant=None):
    """run_tenant once per tenant in this process; on_tenant(index, seconds, result) after each."""
    run = SideRun("ours, in process", len(tenant_names), 0.0)
    extra = {"kubeconfig": kubeconfig} if kubeconfig else {}
    for index, name in enumerate(tenant_names):
        started = time.monotonic()
        result, failure = run_tenant(params(ledger_db, backup_dir, name=name, plan=PLAN, wait_timeout=120, **extra), False)
        seconds = time.monotonic() - started
        if failure:
            raise BenchError(f"tenant {name}: {failure}")
        run.seconds += seconds
        _add_module_result(run, result)
        if on_tenant:
            on_tenant(index, seconds, result)
    return run


def before_first_wait(result):
    """Seconds the run spent before it first waited for the cluster (the init Job), from its steps
    ("[  0.4s] waiting for ..."): the module's own work, API requests and SQL."""
    for line in result.get("steps") or []:
        match = re.match(r"^\[\s*([0-9.]+)s\] waiting for", line)
        if match:
            return float(match[1])
    return None


def tenant_info_all(ledger_db, backup_dir, kubeconfig=None):
    """tenant_info for every tenant of the ledger; returns (seconds, tenants described)."""
    extra = {"kubeconfig": kubeconfig} if kubeconfig else {}
    started = time.monotonic()
    result, failure = run_tenant_info(params(ledger_db, backup_dir, **extra))
    seconds = time.monotonic() - started
    if failure:
        raise BenchError(f"tenant_info: {failure}")
    unhealthy = [t["name"] for t in result["tenants"] if t.get("drift") or not (t.get("health") or {}).get("odoo_ready")]
    if unhealthy:
        raise BenchError(f"tenant_info reports drift or unready tenants: {unhealthy[:5]}")
    return seconds, len(result["tenants"])
