"""What Odoo does with its database connection, replayed against the real servers.

No Odoo runs here (kwok starts no container), so these functions do, with psycopg, what Odoo's
server does with the credentials it reads from its odoo.conf (ODOO.md, and Odoo's own
odoo/cli/server.py, odoo/service/db.py, odoo/service/server.py, addons/bus):
- at start, with db_name set: connect to the `postgres` maintenance database and look for its
  database in pg_database (and try CREATE DATABASE when it is missing; a refusal must be a
  privilege error, which Odoo logs and skips, never a refused connection, which it does not
  catch);
- cron threads LISTEN on `postgres` (channel cron_trigger), the bus NOTIFYs there (imbus);
- every process keeps a pool of up to db_maxconn connections, to its own database and to
  `postgres` alike.
The only translation is the address: odoo.conf names the in-cluster Service of a shared server
(postgres.<server>.svc.cluster.local:5432), which locally is that server's loopback port, or
the dedicated server's Service (`postgres`), which a test gives the port of its scratch server.
"""

from __future__ import annotations

import base64
import configparser
import re
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field

import psycopg
from kubernetes import client

from tests.cluster import postgres

CLUSTER_HOST = re.compile(r"^postgres\.(?P<server>postgres-shared-[0-9]+)\.svc\.cluster\.local\Z")
CRON_CHANNEL = "cron_trigger"  # odoo/service/server.py: each cron thread LISTENs on it
BUS_CHANNEL = "imbus"  # addons/bus: notifications go through `postgres`


@dataclass(frozen=True)
class OdooDatabaseConfig:
    """The database part of a tenant's odoo.conf, as Odoo reads it."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    db_maxconn: int
    workers: int
    port_here: int | None = None  # where the server named by host:port listens on this machine

    def local_port(self) -> int:
        if self.port_here is not None:
            return self.port_here
        match = CLUSTER_HOST.match(self.host)
        if not match or self.port != 5432:
            raise AssertionError(f"odoo.conf names {self.host}:{self.port}, not a shared server's Service")
        return next(server.port for server in postgres.SERVERS if server.name == match["server"])

    def connect(self, dbname: str | None = None, **kwargs):
        return psycopg.connect(host="127.0.0.1", port=self.local_port(), user=self.user, password=self.password,
                               dbname=dbname or self.database, connect_timeout=5, autocommit=True, **kwargs)


def parse_config(text: str, port_here: int | None = None) -> OdooDatabaseConfig:
    """The database part of an odoo.conf, read as Odoo reads it (configparser)."""
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    options = parser["options"]
    return OdooDatabaseConfig(host=options["db_host"], port=int(options["db_port"]), user=options["db_user"],
                              password=options["db_password"], database=options["db_name"],
                              db_maxconn=int(options["db_maxconn"]), workers=int(options["workers"]), port_here=port_here)


def read_config(core: client.CoreV1Api, namespace: str) -> OdooDatabaseConfig:
    """odoo.conf from the tenant's config Secret, the file Odoo's pods mount."""
    secret = core.read_namespaced_secret("odoo-config", namespace)
    return parse_config(base64.b64decode(secret.data["odoo.conf"]).decode())


def start(config: OdooDatabaseConfig) -> str:
    """Odoo's start with db_name set: through `postgres`, is the database there? Then what a
    CREATE DATABASE would meet. Returns the SQLSTATE of that refusal."""
    with config.connect("postgres") as conn:
        found = conn.execute("SELECT datname FROM pg_database WHERE datname = %s", (config.database,)).fetchall()
        assert found == [(config.database,)], f"database {config.database} not visible through postgres"
        probe = f"odoo_probe_{uuid.uuid4().hex[:8]}"
        try:
            conn.execute(f'CREATE DATABASE "{probe}" ENCODING \'unicode\' TEMPLATE "template0"')
        except psycopg.errors.InsufficientPrivilege as refused:
            return refused.sqlstate
        conn.execute(f'DROP DATABASE "{probe}"')
        raise AssertionError(f"role {config.user} may create databases")


def listen_and_notify(config: OdooDatabaseConfig) -> list[tuple[str, str]]:
    """A cron thread's LISTEN and the bus's NOTIFY on `postgres`; returns what the listener got."""
    with config.connect("postgres") as listener, config.connect("postgres") as sender:
        listener.execute(f"LISTEN {CRON_CHANNEL}")
        listener.execute(f"LISTEN {BUS_CHANNEL}")
        sender.execute("SELECT pg_notify(%s, %s)", (CRON_CHANNEL, config.database))
        sender.execute("SELECT pg_notify(%s, %s)", (BUS_CHANNEL, '["broadcast"]'))
        received = []
        for notify in listener.notifies(timeout=5, stop_after=2):
            received.append((notify.channel, notify.payload))
        return received


def live_workloads(api: client.ApiClient, namespace: str) -> dict[str, dict]:
    """The tenant's web and cron Deployments and init Job as the cluster holds them (plain dicts)."""
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
    return {name: api.sanitize_for_serialization(read(name, namespace)) for name, read in (
        ("odoo-web", apps.read_namespaced_deployment), ("odoo-cron", apps.read_namespaced_deployment),
        ("odoo-db-init", batch.read_namespaced_job))}


def pool_sizes(workloads: dict[str, dict], config: OdooDatabaseConfig) -> dict[str, int]:
    """Every connection pool the tenant's pods may hold at once, from the objects the kit writes
    ({name: object}): web replicas x processes x db_maxconn, the cron pod's and the init Job's."""
    processes = config.workers + 1 if config.workers > 0 else 1

    def flag(workload, name):
        args = workload["spec"]["template"]["spec"]["containers"][0].get("args") or []
        values = [arg.split("=", 1)[1] for arg in args if arg.startswith(f"--{name}=")]
        return int(values[-1]) if values else None

    web, cron, init = workloads["odoo-web"], workloads["odoo-cron"], workloads["odoo-db-init"]
    return {
        "web": (web["spec"].get("replicas") or 0) * processes * config.db_maxconn,
        "cron": (flag(cron, "db_maxconn") or config.db_maxconn) * (cron["spec"].get("replicas") or 0),
        "init": flag(init, "db_maxconn") or config.db_maxconn,
        "cron_threads": flag(cron, "max-cron-threads") or 0,
    }


def hold(config: OdooDatabaseConfig, total: int, listeners: int) -> int:
    """Open `total` connections at once as the tenant's processes would: `listeners` of them
    to `postgres` (the cron threads' LISTEN), the rest to its own database. Returns how many
    were open together."""
    with ExitStack() as stack:
        opened = 0
        for index in range(total):
            conn = stack.enter_context(config.connect("postgres" if index < listeners else None))
            conn.execute("SELECT 1")
            opened += 1
        return opened


def refused_connection(config: OdooDatabaseConfig, dbname: str) -> str:
    """The error message of a connection the server refuses, or AssertionError when it is let in."""
    try:
        with config.connect(dbname):
            pass
    except psycopg.OperationalError as refused:
        return str(refused)
    raise AssertionError(f"role {config.user} connected to database {dbname}")
