"""python -m bench: issue 5's benchmarks against the running local platform (`make up`).

  1. provisioning of N tenants, side by side: odoo_saas.kit.tenant in a playbook loop versus the
     usual playbook (one kubernetes.core.k8s task per object, community.postgresql for the SQL);
  2. a re-run over the same N tenants, both sides: time, API requests, writes, SQL;
  3. the scale curve: cost of each new tenant (our core, in process) as the platform grows,
     and tenant_info for all tenants at each size;
  4. decommissioning, backup included, split between dump, pods, drop and namespace termination;
  5. backup and restore throughput of the backup Job's program against pg_dump | upload (bench/backups.py);
  6. the fleet in one task: N tenants provisioned, reconciled with no change and described by
     tenant_info, each in one call, with wall time, API requests, writes, SQL and peak RSS (bench/fleet.py);
  7. the SaaS controller under load over loopback HTTP: readers over a fleet, creators of real tenants
     (bench/controller_load.py).

Prints tables; asserts nothing about time. Every tenant it creates is removed at the end, also
on failure or Ctrl-C, and it works in a scratch ledger database of its own.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter

from tests.cluster.progress import step
from tests.integration import tenants

from . import backups, cleanup, controller_load, decommission, fleet, measure, sides
from .sides import BenchError

DEFAULT_SIZES = "1,5"
DEFAULT_SCALE = "1,10,50"
DEFAULT_DECOMMISSION = 3
DEFAULT_PARALLEL = 8
DEFAULT_DUMP_MB = 50
DEFAULT_BACKUP_MB = 200
DEFAULT_FLEET = "10,100"
# Benchmarks 1-2: (option name, side, tenant name prefix); each of ours is compared with the
# baseline at the same parallelism: the loops, then P at a time.
SIDES = {"loop": ("ours", "o"), "fleet": ("ours, one task", "f"), "baseline-loop": ("kubernetes.core", "k"),
         "baseline-forks": ("kubernetes.core, forks", "p")}


def say(message):
    step("bench", message)


def sizes(text):
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of tenant counts, such as 1,10,50")
    return values


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=sizes, default=sizes(DEFAULT_SIZES),
                        help=f"N for benchmarks 1 and 2, both sides (default {DEFAULT_SIZES}); the kubernetes.core "
                             "side costs about a minute per tenant on the 2-core machine")
    parser.add_argument("--scale", type=sizes, default=sizes(DEFAULT_SCALE),
                        help=f"platform sizes at which benchmark 3 reports (default {DEFAULT_SCALE}); it grows to the largest")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="P",
                        help=f"benchmarks 1-2: tenants converging at once in odoo_saas.kit.tenants (default {DEFAULT_PARALLEL})")
    parser.add_argument("--sides", default=",".join(SIDES),
                        help=f"benchmarks 1-2: the sides to run, of {','.join(SIDES)} (default all): the loops of "
                             "odoo_saas.kit.tenant and of the baseline, odoo_saas.kit.tenants at P and the baseline with "
                             "P forks")
    parser.add_argument("--decommission", type=int, default=DEFAULT_DECOMMISSION, metavar="N",
                        help=f"benchmark 4: tenants removed with a backup, and as many without (default {DEFAULT_DECOMMISSION})")
    parser.add_argument("--dump-mb", type=int, default=DEFAULT_DUMP_MB, metavar="MIB",
                        help=f"benchmark 4: data written into each database before its backup (default {DEFAULT_DUMP_MB})")
    parser.add_argument("--backup-mb", type=int, default=DEFAULT_BACKUP_MB, metavar="MIB",
                        help=f"benchmark 5: MiB of database and as many of filestore (default {DEFAULT_BACKUP_MB})")
    parser.add_argument("--fleet", type=sizes, default=sizes(DEFAULT_FLEET),
                        help=f"benchmark 6: fleet sizes (default {DEFAULT_FLEET}); kwok nodes are added for the pods "
                             "beyond what the platform's three nodes hold (about 160 tenants)")
    parser.add_argument("--load", default="500,50,20,20", metavar="FLEET,READERS,CREATORS,SECONDS",
                        help="benchmark 7: tenants in the ledger, reading clients, creating clients, seconds of reading "
                             "(default 500,50,20,20)")
    parser.add_argument("--only", default="1,2,3,4,5,6,7",
                        help="benchmarks to run; 1 and 2 run together (default 1,2,3,4,5,6,7)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    return parser.parse_args(argv)


class Bench:
    """One run: its scratch ledger, the proxy that counts each side's requests, the figures."""

    def __init__(self, api, run_id, ledger_db, backup_dir, workdir, parallel, side_options=tuple(SIDES)):
        self.api, self.run_id, self.ledger_db, self.backup_dir, self.workdir = api, run_id, ledger_db, backup_dir, workdir
        self.parallel = parallel
        self.sides = side_options
        self.proxy = measure.CountingProxy(api)
        self.kubeconfig = self.proxy.kubeconfig(workdir)
        self.provisioning, self.rerun, self.scale, self.skipped, self.decommission = [], [], [], [], []
        self.backups = None
        self.fleet = []
        self.load = None
        self.fixed = {}

    def fits(self, tenant_count, what):
        free = self.api.free_pods()
        needed = 2 * tenant_count + 2  # web and cron per tenant, and an init Job's pod
        if free < needed:
            self.skipped.append(f"{what}: needs {needed} free pod slots, the nodes have {free} "
                                "(3 kwok nodes x 110 pods, less what runs)")
            say(f"skipping {self.skipped[-1]}")
            return False
        return True

    def measured(self, run_side, namespaces=None, databases=None):
        """run_side() with its requests counted (proxy and API server); with namespaces and
        databases, also the objects and catalog rows it rewrote."""
        window = measure.Window(self.api)
        objects = self.api.objects(namespaces) if namespaces else None
        rows = measure.catalog_rows(databases) if databases else None
        window.start()
        before = self.proxy.snapshot()
        run = run_side()
        run.client = self.proxy.snapshot() - before
        run.api = window.stop()
        if namespaces:
            run.writes = measure.changed_objects(objects, self.api.objects(namespaces))
        if databases:
            run.catalog_rows = measure.changed_objects(rows, measure.catalog_rows(databases))
        return run

    def startup(self):
        """What ansible-playbook costs each side before its first tenant: the playbook on an empty loop."""
        say("0. ansible-playbook start: each playbook on an empty loop")
        for run in (sides.ours([], self.ledger_db, self.backup_dir, self.workdir, self.kubeconfig),
                    sides.theirs([], self.workdir, self.kubeconfig)):
            self.fixed[run.side] = run.seconds
            say(f"   {run.side}: {run.seconds:.1f}s")

    def side_by_side(self, size):
        """Benchmarks 1 and 2 at one size: ours (provision, re-run), then the baseline's."""
        if not self.fits(size, f"benchmarks 1-2 at N={size}"):
            return
        args = (self.ledger_db, self.backup_dir)
        for side, prefix in (SIDES[option] for option in self.sides):
            names = sides.names(self.run_id, f"{prefix}{size}", size)
            namespaces = {f"tenant-{name}" for name in names}
            databases = [f"odoo_{name.replace('-', '_')}" for name in names]
            if side == "ours":
                run_side = functools.partial(sides.ours, names, *args, self.workdir, self.kubeconfig)
            elif side == "ours, one task":
                run_side = functools.partial(sides.ours_fleet, names, *args, self.workdir, self.kubeconfig, self.parallel)
            elif side == "kubernetes.core":
                files = sides.write_baseline_vars(names, *args, self.workdir)
                run_side = functools.partial(sides.theirs, files, self.workdir, self.kubeconfig)
            else:
                files = sides.write_baseline_vars(names, *args, self.workdir)
                run_side = functools.partial(sides.theirs_parallel, files, self.workdir, self.kubeconfig, self.parallel)
            say(f"1. N={size}: provisioning with {side} (ansible-playbook)")
            run = self.measured(run_side)
            self.provisioning.append((size, run))
            say(f"   {run.seconds:.1f}s, {run.per_tenant:.2f}s per tenant")
            say(f"2. N={size}: re-run with {side}")
            run = self.measured(run_side, namespaces, databases)
            self.rerun.append((size, run))
            say(f"   {run.seconds:.1f}s, {run.writes} objects written, {run.sql} SQL statements run")
            if side == "ours":
                # Straight to the API server: the proxy's millisecond per request would show here.
                run = self.measured(functools.partial(sides.core, names, *args), namespaces, databases)
                run.client = Counter(run.module_requests)
                self.rerun.append((size, run))
                say(f"   in process: {run.seconds:.2f}s")
            say(f"   removing the {size} tenant(s) of {side}")
            failures = cleanup.remove_baseline(names) if side.startswith("kubernetes.core") else cleanup.remove_ours(names, *args)
            if failures:
                raise BenchError(f"removing the tenants of {side} failed: {failures[:3]}")

    def scale_curve(self, checkpoints):
        """Benchmark 3: tenants provisioned one by one (our core, in process) up to the largest
        checkpoint; at each checkpoint, tenant_info over all of them."""
        if not self.fits(checkpoints[-1], f"benchmark 3 up to {checkpoints[-1]} tenants"):
            free = self.api.free_pods()
            checkpoints = [c for c in checkpoints if 2 * c + 2 <= free]
            if not checkpoints:
                return
            say(f"3. growing to {checkpoints[-1]} tenants instead")
        names = sides.names(self.run_id, "s", checkpoints[-1])
        costs, own = [], []

        def checkpoint(index, seconds, result):
            costs.append(seconds)
            own.append(sides.before_first_wait(result) or 0.0)
            count = index + 1
            if count % 10 == 0 and count not in checkpoints:
                say(f"3. {count} tenants, the last took {seconds:.2f}s")
            if count in checkpoints:
                # Timed straight to the API server, then run again through the proxy to count its requests.
                info_seconds, described = sides.tenant_info_all(self.ledger_db, self.backup_dir)
                before = self.proxy.snapshot()
                sides.tenant_info_all(self.ledger_db, self.backup_dir, self.kubeconfig)
                requests = self.proxy.snapshot() - before
                previous = ([0] + [c for c in checkpoints if c < count])[-1]
                new = costs[previous:count]
                self.scale.append({"tenants": count, "new_tenants": len(new), "per_new_tenant": sum(new) / len(new),
                                   "slowest": max(new), "before_wait": sum(own[previous:count]) / len(new),
                                   "info_seconds": info_seconds, "described": described, "info_requests": requests})
                say(f"3. {count} tenants: {sum(new) / len(new):.2f}s per new tenant; tenant_info for all "
                    f"{info_seconds:.2f}s")

        try:
            say(f"3. provisioning {len(names)} tenants one by one (our core, in process)")
            sides.core(names, self.ledger_db, self.backup_dir, on_tenant=checkpoint)
        finally:
            say(f"   removing the scale curve's {len(costs)} tenant(s)")
            failures = cleanup.remove_ours(names[:len(costs) + 1], self.ledger_db, self.backup_dir)
            if failures:
                say(f"   could not remove: {failures[:3]} (the final sweep tries again)")


# --- tables ---------------------------------------------------------------------------------------------

NUMBER = re.compile(r"^(-|restart|None|[0-9.]+x?)$")


def table(title, headers, rows, notes=()):
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["", title, "", "  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) if NUMBER.match(c) else c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines += [f"  {note}" for note in notes]
    return "\n".join(lines)


VERBS = ("get", "list", "create", "apply", "patch", "update", "delete", "discovery")
REQUEST_COLUMNS = [*VERBS, "total", "mutating", "all clients", "(mutating)"]


def requests(run):
    """Per tenant: the side's own requests by verb (proxy), then the API server's count for the
    tenants' resources over the same time, every client included."""
    n = run.tenants
    own = [run.client.get(verb, 0) / n for verb in VERBS]
    mutating = sum(run.client.get(verb, 0) for verb in measure.MUTATING) / n
    cells = [f"{v:.1f}" for v in own] + [f"{sum(own):.1f}", f"{mutating:.1f}"]
    if run.api is None:
        return cells + ["restart", "restart"]  # the API server restarted during the run
    api_mutating = sum(run.api.get(verb, 0) for verb in measure.MUTATING) / n
    return cells + [f"{sum(run.api.values()) / n:.1f}", f"{api_mutating:.1f}"]


def ratio(runs, size, run):
    """The baseline's wall time over this side's, at the same N and the same parallelism (both
    through ansible-playbook): our loop against theirs, our one task at P against their forks P."""
    if run.baseline or "in process" in run.side:
        return ""
    theirs = next((r for s, r in runs if s == size and r.baseline and r.parallel == run.parallel), None)
    return f"{theirs.seconds / run.seconds:.1f}x vs {theirs.side}" if theirs else ""


def marginal(bench, run):
    """Seconds per tenant once ansible-playbook has started (its start measured with an empty loop)."""
    fixed = bench.fixed.get(run.side)
    return f"{(run.seconds - fixed) / run.tenants:.2f}" if fixed is not None else "-"


def module_agrees(runs):
    """Whether the proxy's count for our runs equals what the module reports (api_requests,
    where a LIST counts as a get; the proxy tells them apart)."""
    ours = [run for _size, run in runs if run.module_requests]
    agree = all(+(run.client - Counter(list=run.client["list"]) + Counter(get=run.client["list"])) == +run.module_requests
                for run in ours)
    return "equal to the module's own api_requests" if agree else "NOT equal to the module's api_requests (check)"


def provisioning_table(bench, floor):
    rows = [[size, run.side, f"{run.seconds:.1f}", f"{run.per_tenant:.2f}", marginal(bench, run),
             ratio(bench.provisioning, size, run), *requests(run), floor] for size, run in bench.provisioning]
    return table(
        "Benchmark 1 - provisioning N tenants (wall time of the whole ansible-playbook run; API requests per tenant)",
        ["N", "side", "wall s", "s/tenant", "after start", "theirs/ours", *REQUEST_COLUMNS, "floor"], rows,
        ["theirs/ours: the baseline's wall time over this side's at the same N and parallelism: our loop vs their loop,",
         "our one task at P vs their playbook over one host per tenant with P forks.",
         "after start: (wall - the same playbook on an empty loop) / N; "
         + ", ".join(f"{side} starts in {seconds:.1f}s" for side, seconds in bench.fixed.items()) + ".",
         "get ... mutating: the side's own requests, counted at a loopback proxy in front of the API server "
         f"(~1 ms a request; ours: {module_agrees(bench.provisioning)}).",
         "all clients (mutating): apiserver_request_total over the same time for the tenants' resources (no LIST/WATCH),",
         "controllers (default ServiceAccount, PVC binding, discovery) and other users of the cluster included.",
         "floor: one request per object written."])


def rerun_table(bench):
    rows = [[size, run.side, f"{run.seconds:.2f}", f"{run.per_tenant:.3f}", marginal(bench, run),
             ratio(bench.rerun, size, run), *requests(run), run.writes, run.catalog_rows, run.sql,
             sum(run.changed_tasks.values()) if run.side != "ours, in process" else run.objects_written]
            for size, run in bench.rerun]
    return table(
        "Benchmark 2 - re-run over N existing tenants (nothing to change)",
        ["N", "side", "wall s", "s/tenant", "after start", "theirs/ours", *REQUEST_COLUMNS, "objects written",
         "catalog rows rewritten", "SQL run", "changed"], rows,
        ["theirs/ours as in benchmark 1 (the same parallelism on both sides).",
         "Requests as in benchmark 1 (ours: " + module_agrees(bench.rerun) + "); ours in process runs straight to the",
         "API server (no proxy), its requests as the module counts them.",
         "objects written: generation (else resourceVersion) changes of the tenants' objects; ResourceQuota, PVC left out.",
         "catalog rows rewritten: pg_authid/pg_database rows of the tenants' roles and databases with a new xmin.",
         "SQL run: ours, the module's SQL actions; theirs, the statements the community.postgresql modules report running",
         "(postgresql_privs runs its GRANT/REVOKE and rolls back when the ACL did not change).",
         "changed: task results reporting changed (ours in process: objects the module wrote)."])


def scale_table(bench):
    rows = [[p["tenants"], p["new_tenants"], f"{p['per_new_tenant']:.2f}", f"{p['slowest']:.2f}", f"{p['before_wait']:.2f}",
             f"{p['info_seconds']:.2f}", f"{1000 * p['info_seconds'] / p['described']:.0f}",
             f"{sum(p['info_requests'].values()) / p['described']:.1f}"] for p in bench.scale]
    notes = ["s per new tenant: run_tenant's wall time, waits for the init Job and the rollout included;",
             "before first wait: the part before it first waits for the cluster (placement, secrets, 14 objects, SQL, init Job).",
             "tenant_info: run_tenant_info over every tenant (each object compared, a login to each database)."]
    by_size = {p["tenants"]: p["per_new_tenant"] for p in bench.scale}
    if 10 in by_size and max(by_size) > 10:
        notes.append(f"cost per new tenant at {max(by_size)} tenants vs at 10: {by_size[max(by_size)] / by_size[10]:.2f}x")
    return table("Benchmark 3 - scale curve (our core, in process, one tenant at a time)",
                 ["tenants", "new", "s per new tenant", "slowest s", "before first wait s", "tenant_info all s",
                  "ms per tenant", "requests per tenant"], rows, notes)


def decommission_table(bench):
    return table("Benchmark 4 - decommissioning one tenant at a time (our core, in process; mean seconds per tenant)",
                 ["run", "tenants", "database MiB", "backup MiB", "total s", *decommission.PHASE_NAMES],
                 decommission.summary(bench.decommission),
                 ["setup: connections, ledger state 'deleting'; dump: pg_dump to a temporary file, verified (pg_restore --list),",
                  "checksummed, renamed and recorded; pods: scale to 0 and wait for the pods to stop; drop: end sessions,",
                  "DROP DATABASE and ROLE; namespace: delete the namespace and wait until it is gone, ledger 'deleted'."])


def backups_table(figures):
    rows = [(side, figures[side]["backup_s"], figures[side]["backup_mib_s"], figures[side]["restore_s"],
             figures[side]["restore_mib_s"]) for side in ("ours", "floor")]
    replacing = figures["ours_replacing"]
    rows.insert(1, ("ours, replacing", "-", "-", replacing["restore_s"], replacing["restore_mib_s"]))
    return table(f"Backup and restore of {figures['db_mb']} MiB of database and {figures['files_mb']} MiB of filestore "
                 "(random bytes), local S3", ["side", "backup s", "backup MiB/s", "restore s", "restore MiB/s"], rows,
                 ["ours: programs/backup_job (dump, read back, tar.gz, read back, sha256, upload, check; restore: "
                  "download, sha256, read back, stage, pg_restore in one transaction, rename), in sequence;",
                  "ours, replacing: tenant_restore's path into the database the first restore filled (dump to script, "
                  "drop + script + marker in one psql transaction, filestore swapped);",
                  "floor: pg_dump -Fc | upload and tar -cz | upload, streamed, nothing verified; restore: download | "
                  "pg_restore, download | tar -xz. Same server, user, store and gzip level, one process a side."])


def figures(bench, machine, versions):
    def run_dict(size, run):
        return {"n": size, "side": run.side, "seconds": run.seconds, "client": run.client, "api": run.api,
                "module_requests": run.module_requests, "writes": run.writes, "catalog_rows": run.catalog_rows,
                "sql": run.sql, "changed_tasks": run.changed_tasks, "objects_written": run.objects_written}
    return {"machine": machine, "versions": versions, "skipped": bench.skipped, "startup": bench.fixed,
            "provisioning": [run_dict(*r) for r in bench.provisioning], "rerun": [run_dict(*r) for r in bench.rerun],
            "scale": bench.scale, "decommission": bench.decommission, "backups": bench.backups, "fleet": bench.fleet,
            "controller_load": bench.load}


def main(argv=None):
    args = parse(argv)
    only = {part.strip() for part in args.only.split(",")}
    side_options = [part.strip() for part in args.sides.split(",") if part.strip()]
    unknown = [option for option in side_options if option not in SIDES]
    if unknown or not side_options:
        print(f"bench: --sides: {', '.join(unknown) or 'none given'} (allowed: {', '.join(SIDES)})", file=sys.stderr)
        return 2
    api = measure.ApiServer()
    try:
        machine, versions = measure.machine(), measure.versions(api)
    except Exception as error:  # noqa: BLE001 - the platform is not up: say how to start it
        print(f"bench: the local platform does not answer ({error}): run `make up` first", file=sys.stderr)
        return 2
    say("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    say("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    run_id = uuid.uuid4().hex[:4]
    ledger_db = sides.scratch_ledger(sides.CAPACITY)
    backup_dir, workdir = tempfile.mkdtemp(prefix="bench-backups-"), tempfile.mkdtemp(prefix="bench-")
    bench = Bench(api, run_id, ledger_db, backup_dir, workdir, args.parallel, side_options)
    floor = None  # benchmarks 1-2: the objects of one tenant (checks the baseline playbook has a task for each)
    say(f"run {run_id}: scratch ledger {ledger_db}; tenants named bk{run_id}-*")
    started = time.monotonic()
    status = 0
    try:
        if only & {"1", "2"}:
            floor = len(sides.baseline_tenant(f"bk{run_id}-floor", ledger_db, backup_dir)["objects"])
            bench.startup()
            for size in args.sizes:
                bench.side_by_side(size)
        if "3" in only:
            bench.scale_curve(args.scale)
        if "4" in only and bench.fits(args.decommission, f"benchmark 4 with {args.decommission} tenants"):
            bench.decommission = decommission.run(run_id, ledger_db, backup_dir, args.decommission, args.dump_mb, say)
        if "5" in only:
            bench.backups = backups.run(args.backup_mb, args.backup_mb, say)
        if "6" in only:
            bench.fleet = fleet.run(run_id, args.fleet, args.parallel, api, say)
        if "7" in only:
            fleet_size, readers, creators, seconds = (int(part) for part in args.load.split(","))
            bench.load = controller_load.run(run_id, fleet_size, readers, creators, seconds, say)
    except KeyboardInterrupt:
        say("interrupted: removing what this run created")
        status = 130
    except BenchError as error:
        say(f"failed: {error}")
        status = 1
    finally:
        say("final sweep: removing anything left with this run's prefix, dropping the scratch ledger")
        failures = cleanup.sweep(run_id, ledger_db, backup_dir)
        tenants.drop_ledger(ledger_db)
        bench.proxy.close()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(backup_dir, ignore_errors=True)
        if failures:
            say(f"could not remove: {failures}")
            status = status or 1
    say(f"done in {time.monotonic() - started:.0f}s")
    print(table("Machine and versions", ["what", "value"], [*machine.items(), *versions.items()]))
    if bench.provisioning:
        print(provisioning_table(bench, floor))
    if bench.rerun:
        print(rerun_table(bench))
    if bench.scale:
        print(scale_table(bench))
    if bench.decommission:
        print(decommission_table(bench))
    if bench.backups:
        print(backups_table(bench.backups))
    if bench.fleet:
        print(table("6. The fleet in one task (our core in a child process, parallel " + str(args.parallel) + ")",
                    ["tenants", "run", "s", "ms per tenant", "API requests", "writes", "SQL", "peak RSS MiB"],
                    fleet.table_rows(bench.fleet),
                    ["API requests: the module's own (a LIST counts as one); writes: objects created, updated or "
                     "deleted; SQL: statements run on the servers.",
                     "Peak RSS: the child process's (Python, the clients, the results it returns)."]
                    + [f"N={f['tenants']}: the machine's available memory fell by "
                       f"{f['provision']['platform_growth_mib']:.0f} MiB while the fleet was provisioned (the API server, "
                       "etcd and the shared servers holding it)." for f in bench.fleet
                       if f["provision"].get("platform_growth_mib") is not None]
                    + [f"Module start-up (bench/startup.py, tenant_info for one tenant, median of {fleet.STARTUP_RUNS}): "
                       f"imports done {f['startup']['imported_s']:.2f}s and first API request "
                       f"{f['startup']['first_request_s']:.2f}s after the process started." for f in bench.fleet[:1]
                       if f.get("startup")]))
    if bench.load:
        load = bench.load
        print(table(f"7. The controller under load: {load['readers']} readers over {load['fleet']} tenants, "
                    f"{load['creators']} creators, {load['wall_seconds']:.0f}s",
                    ["requests", "count", "errors", "per s", "p50 ms", "p99 ms"], controller_load.table_rows(load),
                    [f"created tenants active after (from the first POST): p50 {load['to_active_p50_s'] or 0:.1f}s, "
                     f"max {load['to_active_max_s'] or 0:.1f}s; {load['create_operations']} create operations; exactly the "
                     f"requested tenants afterwards: {load['exactly_the_requested_tenants']}",
                     f"create errors: {load['create_errors'] or 'none'}",
                     f"The controller: {controller_load.CONTROLLER_THREADS} request threads, "
                     f"{controller_load.CONTROLLER_WORKERS} workers; clients on the same 2 cores. The fleet is ledger "
                     "rows (reads touch only the ledger); the created tenants are real."]))
    for skipped in bench.skipped:
        print(f"\nnot run: {skipped}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures(bench, machine, versions), handle, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
