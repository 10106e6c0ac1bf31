# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the platform connection options into clients: the API server, the ledger database
and the shared PostgreSQL servers' admin connections."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ledger, pg
from .errors import SpecError
from .kube import Kube


@dataclass
class SharedServer:
    """A shared PostgreSQL server: how the controller reaches it as admin, and how tenant
    pods reach it inside the cluster."""

    admin: pg.ServerConnection
    cluster_host: str
    cluster_port: int = 5432


@dataclass
class Connections:
    kube: Kube
    ledger: object
    servers: dict = field(default_factory=dict)
    _open: dict = field(default_factory=dict)

    def server(self, name):
        try:
            return self.servers[name]
        except KeyError:
            raise SpecError("shared_servers", f"the ledger places this tenant on {name!r}, which shared_servers does not "
                                              "list: add it to odoo_saas_shared_servers") from None

    def server_connection(self, name):
        """An admin connection to a shared server, opened once per run."""
        if name not in self._open:
            self._open[name] = pg.connect(self.server(name).admin)
        return self._open[name]

    def close(self):
        for conn in self._open.values():
            conn.close()
        if self.ledger is not None:
            self.ledger.close()
        self.kube.close()


def _server_connection(raw, field_name, name):
    required = ("host", "port", "user", "password")
    missing = [key for key in required if raw.get(key) in (None, "")]
    if missing:
        raise SpecError(field_name, f"missing {', '.join(missing)}")
    return pg.ServerConnection(
        name=name, host=raw["host"], port=int(raw["port"]), user=raw["user"], password=raw["password"],
        dbname=raw.get("database") or "postgres", sslmode=raw.get("sslmode") or "prefer",
    )


def ledger_connection(params):
    raw = params.get("ledger")
    if not isinstance(raw, dict):
        raise SpecError("ledger", "is required: host, port, database, user and password of the tenant ledger")
    return _server_connection(raw, "ledger", "ledger")


def shared_servers(params):
    servers = {}
    for index, raw in enumerate(params.get("shared_servers") or []):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise SpecError(f"shared_servers[{index}]", "needs name, host, port, admin_user and admin_password")
        name = raw["name"]
        admin = _server_connection(
            {"host": raw.get("host"), "port": raw.get("port"), "user": raw.get("admin_user"),
             "password": raw.get("admin_password"), "sslmode": raw.get("sslmode")},
            f"shared_servers[{index}]", name,
        )
        servers[name] = SharedServer(admin, raw.get("cluster_host") or f"postgres.{name}.svc.cluster.local",
                                     int(raw.get("cluster_port") or 5432))
    return servers


def open_connections(params, need_ledger=True):
    """Open what a run needs; failures name the dependency (never a password)."""
    servers = shared_servers(params)
    ledger_params = ledger_connection(params) if need_ledger else None
    kube = Kube.connect(
        kubeconfig=params.get("kubeconfig"), context=params.get("context"), host=params.get("host"),
        api_key=params.get("api_key"), validate_certs=params.get("validate_certs", True),
        ca_cert=params.get("ca_cert"), client_cert=params.get("client_cert"), client_key=params.get("client_key"),
    )
    ledger_conn = None
    if ledger_params is not None:
        try:
            ledger_conn = pg.connect(ledger_params)
            ledger.require_schema(ledger_conn)
        except Exception:
            kube.close()
            if ledger_conn is not None:
                ledger_conn.close()
            raise
    return Connections(kube=kube, ledger=ledger_conn, servers=servers)
