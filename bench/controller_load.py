"""Benchmark 7: the SaaS controller under load, over real HTTP on loopback. `readers` clients
read a fleet of `fleet` tenants (a page of the list, then one tenant, again and again) while
`creators` clients each create one tenant (with an Idempotency-Key, sent twice) and wait for it;
bounded by count and time, it stops by itself.

The fleet's tenants are ledger rows the bench writes (no cluster objects): the read endpoints
read only the ledger, so that is the load they see. The created tenants are real, provisioned
by the controller's workers, and removed at the end. Clients and controller share the machine's
two cores."""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.integration import tenants
from tests.integration.controller import Controller, cli, write_settings

from .fleet import scratch_ledger
from .sides import BenchError

CONTROLLER_WORKERS = 8
CONTROLLER_THREADS = 16
REMOVAL_WIDTH = 8


def _fleet_rows(ledger_db, run_id, count):
    names = [f"bl{run_id}-{index:04d}" for index in range(count)]
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO tenants (name, state, plan, db_strategy, server, namespace, database, odoo_version, hosts, "
                "db_connection_limit) VALUES (%s, 'active', 'small', 'shared', %s, %s, %s, '18.0', %s, 20)",
                [(name, "postgres-shared-1" if index % 2 else "postgres-shared-2", f"tenant-{name}",
                  f"odoo_{name.replace('-', '_')}", [f"{name}.127.0.0.1.nip.io"]) for index, name in enumerate(names)])
    return names


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def _summary(what, latencies, seconds, errors):
    return {"what": what, "requests": len(latencies), "errors": errors, "seconds": seconds,
            "per_second": len(latencies) / seconds if seconds else 0.0,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": 1000 * _percentile(latencies, 0.99)}


def run(run_id, fleet, readers, creators, read_seconds, say):
    ledger_db = scratch_ledger(fleet + creators)  # servers registered with room and no connection budget
    directory = Path(tempfile.mkdtemp(prefix="bench-controller-"))
    settings_path = write_settings(directory, ledger_db)
    created = [f"bc{run_id}-{index:02d}" for index in range(creators)]
    controller = None
    try:
        names = _fleet_rows(ledger_db, run_id, fleet)
        admin = cli(settings_path, "token", "create", "--name", "bench admin", "--scope", "admin").stdout.split()[-1]
        reader_token = cli(settings_path, "token", "create", "--name", "bench read", "--scope", "read").stdout.split()[-1]
        controller = Controller(settings_path, directory / "controller.log", SAAS_CONTROLLER_WORKERS=str(CONTROLLER_WORKERS))
        controller.threads = CONTROLLER_THREADS
        controller.start()
        say(f"7. controller on {controller.url}: {fleet} tenants in its ledger, {readers} readers for {read_seconds}s, "
            f"{creators} creators")
        reads, read_errors, accepts, actives, create_errors = [], [], [], [], []
        lock = threading.Lock()
        deadline = time.monotonic() + read_seconds

        def reader():
            session, rng = requests.Session(), random.Random()
            headers = {"Authorization": f"Bearer {reader_token}"}
            while time.monotonic() < deadline:
                for path in (f"/v1/tenants?limit=50&after={rng.choice(names)}", f"/v1/tenants/{rng.choice(names)}"):
                    started = time.monotonic()
                    try:
                        ok = session.get(controller.url + path, headers=headers, timeout=30).status_code == 200
                    except requests.RequestException:
                        ok = False
                    with lock:
                        (reads if ok else read_errors).append(time.monotonic() - started)

        def creator(name):
            session = requests.Session()
            headers = {"Authorization": f"Bearer {admin}", "Idempotency-Key": f"bench-{name}"}
            started = time.monotonic()
            answers = [session.post(controller.url + "/v1/tenants", json={"name": name, "plan": "small"}, headers=headers,
                                    timeout=30) for _twice in range(2)]
            accepted = time.monotonic() - started
            if [a.status_code for a in answers] != [202, 200] or answers[0].json()["id"] != answers[1].json()["id"]:
                with lock:
                    create_errors.append(f"{name}: {[a.status_code for a in answers]}")
                return
            done = controller.wait_operation(answers[0].json()["id"], admin, timeout=600)
            with lock:
                accepts.append(accepted / 2)
                (actives if done["state"] == "succeeded" else create_errors).append(
                    time.monotonic() - started if done["state"] == "succeeded" else f"{name}: {done['error']}")

        threads = [threading.Thread(target=reader) for _reader in range(readers)]
        threads += [threading.Thread(target=creator, args=(name,)) for name in created]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(900)
        wall = time.monotonic() - started
        with tenants.connect(tenants.LEDGER, ledger_db) as conn:
            living = {row[0] for row in conn.execute("SELECT name FROM tenants WHERE state = 'active'")}
            operations = conn.execute("SELECT count(*) FROM operations WHERE kind = 'create'").fetchone()[0]
        exact = living == set(names) | set(created) and operations == creators
        return {"fleet": fleet, "readers": readers, "creators": creators, "wall_seconds": wall,
                "reads": _summary("reads (list page or one tenant)", reads, read_seconds, len(read_errors)),
                "accepts": _summary("create accepted (202, then 200 for the retry)", accepts, wall, len(create_errors)),
                "to_active_p50_s": statistics.median(actives) if actives else None,
                "to_active_max_s": max(actives) if actives else None, "create_errors": create_errors[:5],
                "exactly_the_requested_tenants": exact, "create_operations": operations}
    finally:
        if controller is not None:
            controller.stop()
        say(f"7. removing the {creators} created tenants")
        removals = [tenants.params(ledger_db, directory / "backups", name=name, state="absent", confirm=name, backup=False)
                    for name in created]
        with ThreadPoolExecutor(max_workers=REMOVAL_WIDTH) as pool:  # namespace termination is the wait
            failures = [failure for _result, failure in pool.map(tenants.tenant, removals) if failure]
        tenants.drop_ledger(ledger_db)
        if failures:
            raise BenchError(f"removing the created tenants failed: {failures[:3]}")


def table_rows(figures):
    rows = []
    for part in ("reads", "accepts"):
        row = figures[part]
        rate = f"{row['per_second']:.0f}" if part == "reads" else "-"  # 20 creates say nothing of a rate
        rows.append([row["what"], row["requests"], row["errors"], rate, f"{row['p50_ms']:.1f}", f"{row['p99_ms']:.1f}"])
    return rows
