# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connections for a run over many tenants (the tenants module): opened once for the fleet and
shared by its tenants' runs, instead of an API client, a ledger and a server connection per
tenant.

- Without check mode, every tenant of the fleet is locked first, in name order, on a ledger
  session of the fleet's own; only then are the fleet reads taken (one LIST per kind across the
  tenant namespaces, engines/kube_snapshot.py; each shared server's catalog once for the fleet's
  tenants). So a run that converges decides on what a tenant is once no other run can change it,
  exactly as a single tenant's run does after its own lock; name order, so that two fleets never
  deadlock. A tenant's lock is released as soon as its run ends; a tenant's run starts only
  while the session holding the locks is alive (when it is lost, so are the locks).
- Check mode takes no lock, as a single tenant's check mode takes none: a report as of the
  moment it reads.
- Each worker thread has its own ledger and server connections, reused for the tenants it runs
  (opened again when one was lost); each tenant's run has a Kube of its own over the shared API
  client (its own request count, its own waits)."""

from __future__ import annotations

import threading

from . import ledger, pg
from ..errors import DependencyError
from .connections import Connections, connect_kube, ledger_connection, shared_servers
from .kube import Kube
from .kube_snapshot import Prefetched

# Seconds a fleet's LIST answers for before it is taken again: a no-op reconcile of a thousand
# tenants reads each kind once; a long provisioning run keeps reading recent status.
LIST_MAX_AGE = 60


class FleetMember(Connections):
    """One tenant's view of the fleet's connections: closing it closes nothing shared."""

    fleet = None

    @property
    def tenant_locked(self):
        return self.fleet.locks_held

    def server_connection(self, name):
        if _unusable(self._open.get(name)):  # a connection an earlier tenant lost is opened again
            self._open[name] = self.fleet.track(pg.connect(self.server(name).admin))
        return self._open[name]

    def catalog(self, server):
        return self.fleet.catalog(server)

    def close(self):
        pass


def _unusable(conn):
    return conn is None or conn.closed or conn.broken


class FleetConnections:
    def __init__(self, params, label_selector, namespaces):
        self.servers = shared_servers(params)
        self._ledger_params = ledger_connection(params)
        self._guard = threading.Lock()
        self._opened = []  # every database connection, closed at the end
        self._local = threading.local()
        self._catalogs = {}
        self.locks_held = False
        self.kube = connect_kube(params)  # the fleet's own requests (its LISTs) are counted here
        self.prefetched = Prefetched(label_selector, kube=self.kube, max_age=LIST_MAX_AGE, namespaces=namespaces)
        try:
            self.session = self._connect_ledger()
        except Exception:
            self.close()
            raise

    def track(self, conn):
        with self._guard:
            self._opened.append(conn)
        return conn

    def _connect_ledger(self):
        conn = self.track(pg.connect(self._ledger_params))
        ledger.require_schema(conn)
        return conn

    def lock(self, names):
        """Wait for each tenant's lock, in name order; held on the fleet's session until released."""
        names = sorted(set(names))
        with self._guard:
            try:
                ledger.lock_tenants(self.session, names)
            except pg.psycopg.errors.OutOfMemory:
                raise DependencyError("ledger", f"the ledger server cannot hold the locks of {len(names)} tenants at once "
                                                "(its lock table holds max_locks_per_transaction x max_connections locks): "
                                                "raise max_locks_per_transaction on it, or list fewer tenants per task. "
                                                "Nothing was changed.") from None
        self.locks_held = True

    def check_locks(self):
        """Before a tenant's run: the session holding the fleet's locks is still there (when it is
        lost, the server has released every lock, and no tenant may run on the fleet's reads)."""
        if self.locks_held:
            with self._guard:
                self.session.execute("SELECT 1")

    def release(self, name, namespace):
        """The tenant's run ended: its lock is released and its fleet reads let go."""
        self.prefetched.done(namespace)
        if self.locks_held:
            with self._guard:
                ledger.unlock_tenant(self.session, name)

    def preload_catalogs(self, placed):
        """placed: {server: [(role, database)]}: their catalog facts, one query per kind of fact and
        server (a tenant placed during the run is read when it asks)."""
        for server, pairs in placed.items():
            if server in self.servers and pairs:
                self.catalog(server).preload([role for role, _db in pairs], [database for _role, database in pairs])

    def catalog(self, server):
        """The server's catalog for the whole fleet, on a connection of its own (opened again,
        empty, if it was lost)."""
        with self._guard:
            if server not in self._catalogs or _unusable(self._catalogs[server].conn):
                conn = pg.connect(self.servers[server].admin)
                self._opened.append(conn)
                self._catalogs[server] = pg.Catalog(conn)
            return self._catalogs[server]

    def member(self):
        """The connections one tenant's run uses, on the calling thread."""
        local = self._local
        if _unusable(getattr(local, "ledger", None)):  # first use on this thread, or lost
            local.ledger = self._connect_ledger()
            local.server_connections = getattr(local, "server_connections", {})
        kube = Kube(self.kube.api, self.kube.description)
        kube.prefetched = self.prefetched
        member = FleetMember(kube=kube, ledger=local.ledger, servers=self.servers, _open=local.server_connections)
        member.fleet = self
        return member

    def close(self):
        with self._guard:
            opened, self._opened = self._opened, []
        for conn in opened:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - best effort: the server ends a closed client's sessions anyway
                pass
        self.kube.close()
