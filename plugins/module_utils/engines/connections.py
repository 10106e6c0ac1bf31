# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the platform connection options into clients: the API server, the ledger database
and the shared PostgreSQL servers' admin connections."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import ledger, pg
from ..errors import SpecError, shown
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
    tenant_locked = False  # a fleet's connections hold the tenant's ledger lock already (fleet_connections.py)

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

    def catalog(self, server):
        """The server's role and database facts, read as they are asked for."""
        return pg.Catalog(self.server_connection(server))

    def close(self):
        for conn in self._open.values():
            conn.close()
        if self.ledger is not None:
            self.ledger.close()
        self.kube.close()


# A host name, an IPv4 or IPv6 address, or (libpq) the directory of a Unix socket.
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
                  r"|[0-9A-Fa-f:.]{2,45}|/[^\x00-\x1f]{0,200})\Z")
# Role and database names the platform is configured with (not generated): plain identifiers.
PG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}\Z")
SERVER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


def _host(value, field_name, key):
    if not isinstance(value, str) or not HOST.match(value):
        raise SpecError(field_name, f"{key} {shown(value)} is not a host name, an IP address or a socket directory")
    return value


def _port(value, field_name, key, default=None):
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise SpecError(field_name, f"{key} must be a port number from 1 to 65535, got {shown(value)}")
    return value


def _pg_name(value, field_name, key):
    if not isinstance(value, str) or not PG_NAME.match(value):
        raise SpecError(field_name, f"{key} {shown(value)} is not a PostgreSQL name "
                                    "(letters, digits, '_', '$' or '-', starting with a letter or '_')")
    return value


def _server_connection(raw, field_name, name):
    required = ("host", "port", "user", "password")
    missing = [key for key in required if raw.get(key) in (None, "")]
    if missing:
        raise SpecError(field_name, f"missing {', '.join(missing)} (needs {', '.join(required)})")
    if not isinstance(raw["password"], str):
        raise SpecError(field_name, "password must be a string")
    return pg.ServerConnection(
        name=name, host=_host(raw["host"], field_name, "host"), port=_port(raw["port"], field_name, "port"),
        user=_pg_name(raw["user"], field_name, "user"), password=raw["password"],
        dbname=_pg_name(raw.get("database") or "postgres", field_name, "database"),
        sslmode=raw.get("sslmode") or "prefer",
    )


def ledger_connection(params):
    raw = params.get("ledger")
    if not isinstance(raw, dict):
        raise SpecError("ledger", "is required: host, port, database, user and password of the tenant ledger")
    return _server_connection(raw, "ledger", "ledger")


def shared_servers(params):
    servers = {}
    listed = params.get("shared_servers") or []
    if not isinstance(listed, list):
        raise SpecError("shared_servers", "must be a list of servers, each with name, host, port, admin_user and admin_password")
    for index, raw in enumerate(listed):
        field_name = f"shared_servers[{index}]"
        if not isinstance(raw, dict) or not raw.get("name"):
            raise SpecError(field_name, "needs name, host, port, admin_user and admin_password")
        name = raw["name"]
        if not isinstance(name, str) or not SERVER_NAME.match(name):
            raise SpecError(field_name, f"name {shown(name)} is not a namespace name such as 'postgres-shared-1'")
        admin = _server_connection(
            {"host": raw.get("host"), "port": raw.get("port"), "user": raw.get("admin_user"),
             "password": raw.get("admin_password"), "sslmode": raw.get("sslmode")},
            field_name, name,
        )
        cluster_host = raw.get("cluster_host")
        servers[name] = SharedServer(
            admin, _host(cluster_host, field_name, "cluster_host") if cluster_host is not None else f"postgres.{name}.svc.cluster.local",
            _port(raw.get("cluster_port"), field_name, "cluster_port", 5432))
    return servers


def connect_kube(params):
    """The Kubernetes connection a module's connection options describe (the one place that
    reads them)."""
    return Kube.connect(
        kubeconfig=params.get("kubeconfig"), context=params.get("context"), host=params.get("host"),
        api_key=params.get("api_key"), validate_certs=params.get("validate_certs", True),
        ca_cert=params.get("ca_cert"), client_cert=params.get("client_cert"), client_key=params.get("client_key"),
    )


def open_connections(params, need_ledger=True):
    """Open what a run needs; failures name the dependency (never a password)."""
    servers = shared_servers(params)
    ledger_params = ledger_connection(params) if need_ledger else None
    kube = connect_kube(params)
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
