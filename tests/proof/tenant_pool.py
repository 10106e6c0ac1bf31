"""Many tenant runs at once, each in its own process (as parallel Ansible forks would run the
module), the small plans that let many tenants fit on the three kwok nodes, and scratch
ledgers that are always emptied and dropped."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger
from tests.integration import tenants
from tests.unit.plans_fixture import raw_plans

# The machine has 2 cores: more children at once only queue on the CPU.
WIDTH = 8

# The shared plans with smaller CPU requests, so that sixty tenants fit beside everyone else's
# (three nodes of 16 CPUs and 110 pods each); the large one is dedicated. The larger one keeps the smaller one's storage:
# the local storage class cannot grow a volume, so a plan change that does is refused here.
SMALL, MEDIUM, LARGE = "proof-small", "proof-medium", "proof-large"


def plans():
    raw = raw_plans()
    raw[SMALL] = dict(raw["small"], cpu="50m", memory="512Mi")
    raw[MEDIUM] = dict(raw["medium"], cpu="100m", storage=raw["small"]["storage"])
    raw[LARGE] = dict(raw["large"], cpu="200m", db_resources=dict(raw["large"]["db_resources"], cpu="200m"))
    return raw


def params(ledger_db, backup_dir, name, **overrides):
    values = {"plan": SMALL, "plans": plans(), "name": name}
    values.update(overrides)
    return tenants.params(ledger_db, backup_dir, **values)


class Outcome:
    """What one child run ended with: the module's failure message, or a crash."""

    def __init__(self, child):
        self.returncode = child.returncode
        self.stderr = child.stderr[-2000:]
        try:
            answer = json.loads(child.stdout)
        except ValueError:
            answer = None
        self.crashed = child.returncode != 0 or answer is None
        self.failure = None if self.crashed else answer["failure"]
        self.result = {} if self.crashed else answer["result"]

    @property
    def ok(self):
        return not self.crashed and self.failure is None

    def __repr__(self):
        if self.crashed:
            return f"<crashed rc={self.returncode}: {self.stderr}>"
        return f"<failure: {self.failure}>" if self.failure else "<ok>"


def run_all(runs, width=WIDTH):
    """Run every module-parameter dict of `runs` in a child process, `width` at a time."""
    with ThreadPoolExecutor(max_workers=width) as pool:
        return [Outcome(child) for child in pool.map(tenants.tenant_in_subprocess, runs)]


def remove_all(ledger_db, backup_dir, width=WIDTH):
    """Decommission (without backup) every tenant of a scratch ledger, several at once, then
    sequentially whatever is left; returns the names that were still there."""
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        living = [record.name for record in ledger.list_tenants(conn)]
    run_all([params(ledger_db, backup_dir, name, state="absent", confirm=name, backup=False) for name in living],
            width)
    tenants.remove_all(ledger_db, backup_dir, width=1)
    return living


@contextmanager
def scratch_ledger(backup_dir, capacity, capacities=None):
    """A scratch ledger with both shared servers at `capacity` ({server: capacity} overrides);
    afterwards, whatever happened, its tenants are removed and it is dropped."""
    name = tenants.create_ledger(capacity=capacity)
    try:
        with tenants.connect(tenants.LEDGER, name) as conn:
            for server in (tenants.SHARED_1, tenants.SHARED_2):
                if server.name in (capacities or {}):
                    budget = ledger.server_usage(conn)[server.name]
                    ledger.register_server(conn, server.name, "127.0.0.1", server.port, capacities[server.name],
                                           max_connections=budget.max_connections,
                                           reserved_connections=budget.reserved_connections)
        yield name
    finally:
        try:
            remove_all(name, backup_dir)
        finally:
            tenants.drop_ledger(name)


def db_password(core, namespace):
    """The tenant's database password, from its Secret."""
    return base64.b64decode(core.read_namespaced_secret("odoo-db", namespace).data["password"]).decode()
