"""Benchmark 4: decommissioning, one tenant at a time, with its backup, and how the time splits
between the dump, stopping the pods, dropping the database and the namespace's termination.

Each tenant is provisioned by our core (in process), its database filled with `dump_mb` MiB of
rows (kwok runs no Odoo, so a new tenant's database is empty), then removed with
state: absent. The phases are timed from the run's own progress messages, with this
process's clock: a phase runs from its message to the next one."""

from __future__ import annotations

import functools
import time

from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from tests.integration import tenants

from . import sides
from .sides import BenchError

# (phase, the progress message that starts it); "setup" runs from the start to the first one.
PHASES = (
    ("dump", "backing up "),
    ("pods", "waiting for the pods of "),
    ("drop", "dropping database "),
    ("namespace", "waiting for namespace "),
)
PHASE_NAMES = ("setup", *(phase for phase, _prefix in PHASES))
ROW_BYTES = 160  # one filler row: 128 characters of text, an integer and the tuple header


def fill_database(database, megabytes):
    """Write about `megabytes` MiB of rows into the tenant's database; returns its size in bytes."""
    rows = megabytes * 1024 * 1024 // ROW_BYTES
    with tenants.connect(sides.SERVER, database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_filler (id integer, payload text)")
        conn.execute("INSERT INTO bench_filler SELECT g, repeat(md5(random()::text), 4) FROM generate_series(1, %s) g",
                     (rows,))
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def _mark(marks, started, message):
    text = message.split("] ", 1)[-1]
    for phase, prefix in PHASES:
        if text.startswith(prefix):
            marks.append((phase, time.monotonic() - started))


def split(marks, total):
    """Seconds per phase from the (phase, seconds since start) marks; phases not reached count 0."""
    seconds = dict.fromkeys(PHASE_NAMES, 0.0)
    bounds = [("setup", 0.0), *marks, ("end", total)]
    for (phase, start), (_next, end) in zip(bounds, bounds[1:]):
        seconds[phase] += end - start
    return seconds


def decommission(name, ledger_db, backup_dir, take_backup):
    """Remove one tenant; returns (total seconds, seconds per phase, backup size in bytes)."""
    marks = []
    started = time.monotonic()
    result, failure = run_tenant(sides.params(ledger_db, backup_dir, name=name, state="absent", confirm=name,
                                              backup=take_backup, wait_timeout=300),
                                 False, progress=functools.partial(_mark, marks, started))
    total = time.monotonic() - started
    if failure:
        raise BenchError(f"decommissioning {name}: {failure}")
    saved = (result.get("tenant") or {}).get("backup") or {}
    return total, split(marks, total), saved.get("size") or 0


def run(run_id, ledger_db, backup_dir, count, dump_mb, say):
    """count tenants removed with a backup of ~dump_mb MiB each, and count removed without one."""
    rows = []
    for with_backup in (True, False):
        label = "backup" if with_backup else "nobackup"
        names = sides.names(run_id, f"d{label[0]}", count)
        say(f"4. provisioning {count} tenant(s) to decommission ({label})")
        sides.core(names, ledger_db, backup_dir)
        for name in names:
            database = f"odoo_{name.replace('-', '_')}"
            size = fill_database(database, dump_mb) if with_backup else None
            total, phases, backup_size = decommission(name, ledger_db, backup_dir, with_backup)
            rows.append({"tenant": name, "backup": with_backup, "database_bytes": size, "backup_bytes": backup_size,
                         "seconds": total, "phases": phases})
            say(f"4. {name}: {total:.2f}s (" + ", ".join(f"{p} {s:.2f}s" for p, s in phases.items()) + ")")
    return rows


def summary(rows):
    """One row per kind of run (with and without backup): the means."""
    table = []
    for with_backup in (True, False):
        group = [r for r in rows if r["backup"] is with_backup]
        if not group:
            continue
        n = len(group)
        mean = {phase: sum(r["phases"][phase] for r in group) / n for phase in PHASE_NAMES}
        database_mib = sum(r["database_bytes"] or 0 for r in group) / n / 2**20
        backup_mib = sum(r["backup_bytes"] for r in group) / n / 2**20
        table.append(["with backup" if with_backup else "backup: false", n,
                      f"{database_mib:.1f}" if with_backup else "-", f"{backup_mib:.1f}" if with_backup else "-",
                      f"{sum(r['seconds'] for r in group) / n:.2f}", *(f"{mean[phase]:.2f}" for phase in PHASE_NAMES)])
    return table
