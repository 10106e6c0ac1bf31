# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""odoo.conf and the tenant's credential Secrets, with the sizing they need: Odoo's memory
limits per process and its connection pool size, derived from the plan.

Memory, per pod. Every Odoo pod (web, cron, the init Job) has the plan's `memory` as its
container limit L (resident memory; the kernel's OOM killer enforces it). Its Odoo processes
are P: a web pod in multi-process mode (workers > 0) runs `workers` HTTP workers and one
gevent (websocket) worker beside the prefork master; a threaded pod (web with workers = 0,
cron, init) is one process. Then, in MiB:

    share = (L - MASTER_ALLOWANCE) / P                 resident memory each process may use
    limit_memory_hard = share + VMS_OVERHEAD           virtual size (RLIMIT_AS): the ceiling
    limit_memory_soft = SOFT_FRACTION * share + VMS_OVERHEAD
                                                       virtual size past which Odoo recycles
                                                       the process after its request
    P * share + MASTER_ALLOWANCE <= L                  so all processes at their ceiling fit

Odoo's limit_memory_soft/hard measure a process's *virtual* size (psutil vms; hard is an
RLIMIT_AS), which exceeds its resident size by the address space it reserves but does not
touch (thread stacks, malloc arenas, mapped libraries): VMS_OVERHEAD, kept small with
MALLOC_ARENA_MAX=2. That the gap is at least VMS_OVERHEAD is an assumption, not a measurement
(no Odoo runs where this is tested): where a process's gap is smaller, it reaches the
container's limit first, and the OOM killer, not Odoo's recycling, ends it. MASTER_ALLOWANCE is
room, in a web pod, for the prefork master's private memory (it loads the registry before it
forks, so most of it is shared copy-on-write with the workers, and the workers' own
accounting counts those shared pages) and, in a threaded pod, for what Odoo runs beside itself
(wkhtmltopdf, pg_dump), which Odoo's limits do not count. A plan whose share is below
MIN_RESIDENT_SHARE is refused when a request uses it (`memory_problem`): such a process would
be recycled after nearly every request.
"""

from __future__ import annotations

import hashlib
import re

from .base import CONFIG_SECRET, DB_SECRET, HTTP_PORT, WEBSOCKET_PORT, base_labels, metadata
from ..request.quantity import exact as quantity

ODOO_CONF_DIR = "/etc/odoo"
ODOO_CONF = "/etc/odoo/odoo.conf"
DATA_DIR = "/var/lib/odoo"
# The official image's default config lists /mnt/extra-addons; its standard modules live in
# the Debian package's tree. Listed both, extra first, as Odoo itself orders them.
ADDONS_PATH = "/mnt/extra-addons,/usr/lib/python3/dist-packages/odoo/addons"

MIB = 2**20
VMS_OVERHEAD = 512 * MIB
MASTER_ALLOWANCE = 128 * MIB
SOFT_FRACTION = (4, 5)
# An Odoo process holds 150-300 MiB resident once its registry is loaded for a usual set of
# apps; below this share its soft limit would recycle it after nearly every request.
MIN_RESIDENT_SHARE = 384 * MIB
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


def resident_share(memory, processes):
    """Resident bytes each of `processes` Odoo processes may use in a pod limited to `memory`
    (see the module docstring), rounded down to a MiB."""
    return (int(quantity(memory)) - MASTER_ALLOWANCE) // processes // MIB * MIB


def memory_limits(memory, processes):
    """(limit_memory_soft, limit_memory_hard) in bytes for `processes` Odoo processes in a pod
    whose container limit is `memory` (see the module docstring)."""
    share = resident_share(memory, processes)
    numerator, denominator = SOFT_FRACTION
    soft = (share * numerator // denominator + VMS_OVERHEAD) // MIB * MIB
    return soft, share + VMS_OVERHEAD


def pod_processes(plan):
    """(pod, Odoo processes in it) of every kind of Odoo pod the plan runs."""
    return (("web pod", web_processes(plan)), ("cron pod", 1), ("init Job's pod", 1))


def memory_problem(plan) -> str | None:
    """None when every Odoo pod of the plan gives each of its processes at least
    MIN_RESIDENT_SHARE, else a message with the numbers."""
    for pod, processes in pod_processes(plan):
        share = resident_share(plan.memory, processes)
        if share < MIN_RESIDENT_SHARE:
            needed = MIN_RESIDENT_SHARE * processes + MASTER_ALLOWANCE
            return (f"{plan.memory} gives each of the {processes} Odoo process(es) in the {pod} {max(share, 0) // MIB} MiB "
                    f"resident (({int(quantity(plan.memory)) // MIB} MiB - {MASTER_ALLOWANCE // MIB} MiB for the master) / "
                    f"{processes}); each needs at least {MIN_RESIDENT_SHARE // MIB} MiB: set memory to at least "
                    f"{needed // MIB}Mi or run fewer workers")
    return None


def web_db_maxconn(plan):
    """Pool size (db_maxconn) of each web process, so that every pool of every pod at once
    (web replicas x processes, the cron pod and the init Job) stays within the role's
    CONNECTION LIMIT (plan.db_connection_limit). Never below MIN_DB_MAXCONN."""
    pools = plan.replicas * web_processes(plan)
    available = plan.db_connection_limit - CRON_DB_MAXCONN - INIT_DB_MAXCONN
    return max(available // pools, MIN_DB_MAXCONN)


def connection_problem(plan, db_strategy: str | None = None) -> tuple[str, str] | None:
    """None when the plan's connection limit gives every Odoo process a usable pool (and a
    dedicated server accepts that many connections), else (plan key at fault, message)."""
    pools = plan.replicas * web_processes(plan)
    need = pools * MIN_DB_MAXCONN + CRON_DB_MAXCONN + INIT_DB_MAXCONN
    if plan.db_connection_limit < need:
        return "db_connection_limit", (
            f"db_connection_limit {plan.db_connection_limit} is too small; {plan.replicas} web replica(s) x {web_processes(plan)} "
            f"process(es) x {MIN_DB_MAXCONN}, cron {CRON_DB_MAXCONN} and init {INIT_DB_MAXCONN} need {need}")
    if (db_strategy or plan.db_strategy) == "dedicated":
        text = dict(plan.postgresql_settings).get("max_connections", "100")
        if not text.isdigit():
            return "postgresql_settings.max_connections", f"must be a whole number, got {text!r}"
        max_connections = int(text)
        if max_connections < plan.db_connection_limit + POSTGRES_RESERVED:
            return "postgresql_settings.max_connections", (
                f"the dedicated server's max_connections {max_connections} must be at least "
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
