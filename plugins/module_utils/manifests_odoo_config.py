# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""odoo.conf and the tenant's credential Secrets, with the sizing they need: Odoo's memory
limits per process and its connection pool size, derived from the plan.

Odoo's limit_memory_* measure a process's *virtual* size (psutil vms; limit_memory_hard is
an RLIMIT_AS), which exceeds its resident memory by the address space a process reserves
but does not use (thread stacks, malloc arenas, mapped libraries). The container's memory
limit (resident) stays the real bound; Odoo's limits recycle a process before it gets there.
"""

from __future__ import annotations

import hashlib
import re

from .manifests_base import (
    CONFIG_SECRET, DB_SECRET, HTTP_PORT, WEBSOCKET_PORT, base_labels, metadata, quantity,
)

ODOO_CONF_DIR = "/etc/odoo"
ODOO_CONF = "/etc/odoo/odoo.conf"
DATA_DIR = "/var/lib/odoo"
# The official image's default config lists /mnt/extra-addons; its standard modules live in
# the Debian package's tree. Listed both, extra first, as Odoo itself orders them.
ADDONS_PATH = "/mnt/extra-addons,/usr/lib/python3/dist-packages/odoo/addons"

MIB = 2**20
VMS_OVERHEAD = 512 * MIB
MIN_SOFT_SHARE = 640 * MIB  # the soft limit of Odoo's deployment guide example
LIMIT_TIME_CPU = 600
LIMIT_TIME_REAL = 1200
CRON_THREADS = 2
# Pool sizes of the single-process pods: a cron thread holds a LISTEN connection (on the
# `postgres` database) and up to two cursors on the tenant's; the init Job installs serially.
CRON_DB_MAXCONN = 3 * CRON_THREADS + 2
INIT_DB_MAXCONN = 4
MIN_DB_MAXCONN = 2
POSTGRES_RESERVED = 3 + 2  # superuser_reserved_connections, plus room for an operator and a backup


def web_processes(plan):
    """Processes with their own memory and connection pool in one web pod: the HTTP workers
    and the gevent (websocket) worker in multi-process mode, one process in threaded mode.
    The prefork master closes its connections before forking and stays small."""
    return plan.workers + 1 if plan.workers > 0 else 1


def memory_limits(memory, processes):
    """(limit_memory_soft, limit_memory_hard) in bytes for `processes` sharing `memory`.

    soft: 80 % of a process's share of the container (at least the deployment guide's
    640 MiB) plus the virtual-size overhead; past it Odoo recycles the process once its
    request is done, before the container's limit is reached.
    hard: soft plus the overhead again, an address-space ceiling for a runaway request.
    """
    share = max(int(quantity(memory)) * 4 // (5 * processes), MIN_SOFT_SHARE)
    soft = (share + VMS_OVERHEAD) // MIB * MIB
    return soft, soft + VMS_OVERHEAD


def web_db_maxconn(plan):
    """Pool size (db_maxconn) of each web process, so that every pool of every pod at once
    (web replicas x processes, the cron pod and the init Job) stays within the role's
    CONNECTION LIMIT (plan.db_connection_limit). Never below MIN_DB_MAXCONN."""
    pools = plan.replicas * web_processes(plan)
    available = plan.db_connection_limit - CRON_DB_MAXCONN - INIT_DB_MAXCONN
    return max(available // pools, MIN_DB_MAXCONN)


def plan_fits_connections(plan, db_strategy: str | None = None) -> str | None:
    """None when the plan's connection limit gives every Odoo process a usable pool (and a
    dedicated server accepts that many connections), else a message."""
    pools = plan.replicas * web_processes(plan)
    need = pools * MIN_DB_MAXCONN + CRON_DB_MAXCONN + INIT_DB_MAXCONN
    if plan.db_connection_limit < need:
        return (f"plan {plan.name!r}: db_connection_limit {plan.db_connection_limit} is too small; {plan.replicas} web "
                f"replica(s) x {web_processes(plan)} process(es) x {MIN_DB_MAXCONN}, cron {CRON_DB_MAXCONN} and "
                f"init {INIT_DB_MAXCONN} need {need}")
    if (db_strategy or plan.db_strategy) == "dedicated":
        max_connections = int(dict(plan.postgresql_settings).get("max_connections", 100))
        if max_connections < plan.db_connection_limit + POSTGRES_RESERVED:
            return (f"plan {plan.name!r}: the dedicated server's max_connections {max_connections} must be at least "
                    f"db_connection_limit {plan.db_connection_limit} + {POSTGRES_RESERVED} reserved")
    return None


def odoo_conf(spec, database, secrets):
    """The tenant's odoo.conf: pinned to one database, behind a proxy, web only (cron runs
    in its own Deployment), sized from the plan. Deterministic: keys in sorted order."""
    plan = spec.plan
    soft, hard = memory_limits(plan.memory, web_processes(plan))
    options = {
        "addons_path": ADDONS_PATH,
        "admin_passwd": secrets.admin_password,
        "data_dir": DATA_DIR,
        "db_host": database.host,
        "db_maxconn": web_db_maxconn(plan),
        "db_name": database.name,
        "db_password": secrets.db_password,
        "db_port": database.port,
        "db_user": database.user,
        # Cron ignores dbfilter and would visit every database the role sees: db_name pins it.
        "dbfilter": f"^{re.escape(database.name)}$",
        "gevent_port": WEBSOCKET_PORT,
        "http_port": HTTP_PORT,
        "limit_memory_hard": hard,
        "limit_memory_soft": soft,
        "limit_time_cpu": LIMIT_TIME_CPU,
        "limit_time_real": LIMIT_TIME_REAL,
        "list_db": "False",
        "max_cron_threads": 0,
        "proxy_mode": "True",
        "workers": plan.workers,
    }
    if spec.odoo_version != "19.0":
        # Odoo 19 installs no demo data unless asked and dropped the without_demo option.
        options["without_demo"] = "all"
    lines = ["; Written by odoo-saas-kit from the tenant's plan; edits are overwritten.", "[options]"]
    lines += [f"{key} = {value}" for key, value in sorted(options.items())]
    return "\n".join(lines) + "\n"


def config_hash(conf):
    return hashlib.sha256(conf.encode("utf-8")).hexdigest()


def db_secret(spec, database, secrets):
    """The tenant's database credentials, for the platform's own tools (backups, migration)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, DB_SECRET, base_labels(spec)),
        "type": "Opaque",
        "stringData": {
            "host": database.host,
            "port": str(database.port),
            "database": database.name,
            "user": database.user,
            "password": secrets.db_password,
        },
    }


def config_secret(spec, conf):
    """odoo.conf holds the database and master passwords, so it is a Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, CONFIG_SECRET, base_labels(spec)),
        "type": "Opaque",
        "stringData": {"odoo.conf": conf},
    }
