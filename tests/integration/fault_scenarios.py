"""Dependencies that go away before or during a run: a scratch PostgreSQL server that the test
stops and restarts, and loopback TCP proxies in front of the API server and the ledger that it
cuts and restores. The shared platform is never touched. Shared by test_faults.py (a fast
subset) and tests/proof/test_faults.py (every case).

A case breaks a dependency (before the run, or at a crash point through crashpoints.observe),
runs the tenant core in this process, mends the dependency, runs again until converged, and
reports an Outcome: the failure message, and what it lacked or left behind."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ansible_collections.odoo_saas.kit.plugins.module_utils import crashpoints
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming

from . import tenants
from .crash_scenarios import rerun
from .leftovers import database_on, kube, leaked, leftovers, platform_secrets, record_of
from .scratch_postgres import start_scratch
from .tcp_proxy import TcpProxy

PLAN = "small"


class FaultBench:
    """The scratch server (the only one the scratch ledger places tenants on), the proxies and
    the module parameters that go through them."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.postgres = start_scratch()
        self.ledger_db = None
        self.api = self.ledger = None
        try:
            self.ledger_db = tenants.create_ledger(servers=(self.postgres,))
            self.api = TcpProxy(_api_port())
            self.ledger = TcpProxy(tenants.LEDGER.port)
            self.kubeconfig = self.api.kubeconfig(tenants.control_plane.layout().kubeconfig, workdir)
        except BaseException:
            self.close()
            raise
        self.servers = {self.postgres.name: self.postgres, tenants.SHARED_1.name: tenants.SHARED_1,
                        tenants.SHARED_2.name: tenants.SHARED_2}

    def params(self, name, through_proxies=True, **overrides):
        values = tenants.params(self.ledger_db, self.workdir / "backups" / name, name=name, plan=PLAN,
                                shared_servers=[self.postgres.shared_server()])
        if through_proxies:
            values["kubeconfig"] = self.kubeconfig
            values["ledger"] = dict(values["ledger"], port=self.ledger.port)
        values.update(overrides)
        return values

    def provision(self, name):
        result, failure = tenants.tenant(self.params(name))
        assert failure is None, failure
        return result

    def mend(self):
        """Every dependency back."""
        if not self.postgres.running():
            self.postgres.start()
        for proxy in (self.api, self.ledger):
            if proxy is not None and not proxy.listening:
                proxy.restore()

    def remove_tenants(self):
        """Decommission (without backup, straight to the dependencies) whatever the ledger holds."""
        if self.ledger_db is None:
            return
        self.mend()
        tenants.remove_all(self.ledger_db, self.workdir / "cleanup", width=6,
                           shared_servers=[self.postgres.shared_server()])

    def close(self):
        try:
            self.remove_tenants()
        finally:
            for proxy in (self.api, self.ledger):
                if proxy is not None:
                    proxy.close()
            if self.ledger_db is not None:
                tenants.drop_ledger(self.ledger_db)
            self.postgres.remove()


def _api_port():
    api = kube()
    try:
        return int(api.api.configuration.host.rsplit(":", 1)[1])
    finally:
        api.close()


@contextlib.contextmanager
def at_point(point, action):
    """Run action() once, when the run in this process reaches `point`."""
    done = []

    def callback(reached):
        if reached == point and not done:
            done.append(point)
            action()
    stop = crashpoints.observe(callback)
    try:
        yield done
    finally:
        stop()


@dataclass
class Outcome:
    case: str
    failure: str | None = None
    reached: bool = True
    clear: bool = False
    survives: bool = False
    untouched: bool | None = None  # for faults before the run: nothing was written, or nothing dropped
    converged: bool = False
    problems: list = field(default_factory=list)
    leaks: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    tenant: str | None = None

    def check(self):
        assert self.reached, f"{self.case}: the fault was never injected (point not reached)"
        if self.survives:
            assert self.failure is None, f"{self.case}: the run did not carry on: {self.failure}"
        else:
            assert self.failure, f"{self.case}: the run did not fail"
            assert self.clear, f"{self.case}: unclear failure: {self.failure}"
        assert self.untouched is not False, f"{self.case}: something was written although a dependency was down: {self.notes}"
        assert self.converged, f"{self.case}: not converged after the dependency came back: {self.notes}"
        assert self.problems == [], f"{self.case}: left behind: {self.problems}"
        assert self.leaks == [], f"{self.case}: secrets leaked: {self.leaks}"


@dataclass(frozen=True)
class Fault:
    """One case: `state` of the run, the dependency broken (`break_it`, before the run or at
    `point`), and what its failure message must name."""

    case: str
    state: str  # present, suspended or absent
    dependency: str  # postgres, api, ledger
    how: str  # down (stopped/cut before the run), cut (at the point), restart (at the point, then back at once)
    point: str | None = None
    survives: bool = False  # the run carries on (the client reconnects) instead of failing


FAULTS = [
    Fault("PostgreSQL down before provisioning", "present", "postgres", "down"),
    Fault("PostgreSQL stopped while creating the database", "present", "postgres", "cut", "after-sql:create-role"),
    Fault("PostgreSQL restarted between the objects and the database", "present", "postgres", "restart",
          "after-foundation"),
    Fault("PostgreSQL down before decommissioning (the backup)", "absent", "postgres", "down"),
    Fault("PostgreSQL stopped while dropping the database", "absent", "postgres", "cut", "after-sql:terminate-sessions"),
    Fault("API server unreachable before provisioning", "present", "api", "down"),
    Fault("API server cut between two objects", "present", "api", "cut", "after-apply:Secret/odoo-db"),
    Fault("API server restarted between two objects", "present", "api", "restart", "after-apply:Secret/odoo-db",
          survives=True),
    Fault("API server cut while suspending", "suspended", "api", "cut", "after-apply:Deployment/odoo-web"),
    Fault("API server unreachable before decommissioning", "absent", "api", "down"),
    Fault("API server cut before the namespace is deleted", "absent", "api", "cut", "after-drop"),
    Fault("ledger down before provisioning", "present", "ledger", "down"),
    Fault("ledger cut before the final state", "present", "ledger", "cut", "before-ledger-state"),
    Fault("ledger cut after the backup", "absent", "ledger", "cut", "after-backup"),
]


def _break(bench, fault):
    if fault.dependency == "postgres":
        bench.postgres.stop()
        if fault.how == "restart":
            bench.postgres.start()
        return
    proxy = bench.api if fault.dependency == "api" else bench.ledger
    proxy.cut()
    if fault.how == "restart":
        proxy.restore()


def names_dependency(bench, fault, failure):
    """The failure names the dependency (which server, where) and says what to do, with no traceback."""
    if not failure or "Traceback" in failure:
        return False
    named = {
        "postgres": f"{bench.postgres.name}" in failure and str(bench.postgres.port) in failure,
        "api": "Kubernetes API server" in failure and str(bench.api.port) in failure,
        "ledger": "ledger" in failure and str(bench.ledger.port) in failure,
    }[fault.dependency]
    advice = any(word in failure for word in ("Check that", "run again", "run the backup again"))
    return named and advice


def _untouched(bench, fault, name):
    """A run that found a dependency down before it started (looked at once it is back) wrote
    nothing: no namespace, and no ledger row unless the server it was placed on is the one down
    (the reservation stays, in state provisioning); a removal dropped nothing (namespace and
    database still there)."""
    record, _hosts = record_of(bench.ledger_db, name)
    api = kube()
    try:
        namespace = api.get("v1", "Namespace", f"tenant-{name}") is not None
    finally:
        api.close()
    if fault.state == "absent":
        return namespace and database_on(bench.postgres, record.database, naming.role_for(name)) == (True, True)
    if fault.dependency == "postgres":
        return not namespace and record is not None and record.state == "provisioning"
    return not namespace and record is None


def run_fault(bench, fault, core, name=None):
    """Prepare the tenant the case needs (or use tenant `name`, which must already be active when
    the case suspends or removes it), break the dependency, run, mend, run again, check."""
    if name is None:
        name = tenants.unique("fault")
        if fault.state != "present":
            bench.provision(name)
    extra = {"confirm": name} if fault.state == "absent" else {}
    module_params = bench.params(name, state=fault.state, **extra)
    secrets = platform_secrets(module_params) + tenants.secrets_of(core, f"tenant-{name}")
    outcome = Outcome(fault.case, survives=fault.survives)
    try:
        if fault.point is None:
            _break(bench, fault)
            result, outcome.failure = tenants.tenant(module_params)
        else:
            with at_point(fault.point.format(namespace=f"tenant-{name}"), lambda: _break(bench, fault)) as done:
                result, outcome.failure = tenants.tenant(module_params)
            outcome.reached = bool(done)
    finally:
        bench.mend()
    outcome.clear = names_dependency(bench, fault, outcome.failure)
    outcome.notes.append(f"failure: {outcome.failure}")
    if fault.point is None:
        outcome.untouched = _untouched(bench, fault, name)
    state = {"present": "active", "suspended": "suspended", "absent": "deleted"}[fault.state]
    results = rerun(outcome, module_params, state)
    secrets += tenants.secrets_of(core, f"tenant-{name}")
    outcome.problems = leftovers(bench.ledger_db, name, state, module_params["backup_dir"], bench.servers)
    outcome.leaks = leaked(secrets, outcome.failure or "", result, *results)
    outcome.tenant = name
    return outcome
