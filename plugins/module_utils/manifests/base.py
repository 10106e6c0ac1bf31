# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building blocks of the tenant manifests: inputs, labels, names, ports and quantities.

Everything here is plain data. The manifests modules import from this one; the lead's code
imports the public names from `manifests`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import SpecError
from ..request.quantity import SUFFIXES

MANAGED_BY = "odoo-saas-kit"
PART_OF = "odoo-saas"
TENANT_LABEL = "odoo-saas.io/tenant"
PLAN_LABEL = "odoo-saas.io/plan"
ROLE_LABEL = "odoo-saas.io/role"
ROLE_TENANT = "tenant"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
CONFIG_HASH_ANNOTATION = "odoo-saas.io/config-sha256"

ODOO = "odoo"
POSTGRESQL = "postgresql"
WEB, CRON, DB_INIT, DATABASE = "web", "cron", "db-init", "database"

HTTP_PORT = 8069
WEBSOCKET_PORT = 8072
POSTGRES_PORT = 5432

# Object names inside a tenant namespace.
SERVICE_ACCOUNT = "odoo"
DB_SECRET = "odoo-db"
CONFIG_SECRET = "odoo-config"
FILESTORE_CLAIM = "odoo-filestore"
INIT_JOB = "odoo-db-init"
WEB_DEPLOYMENT = "odoo-web"
CRON_DEPLOYMENT = "odoo-cron"
ODOO_SERVICE = "odoo"
INGRESS = "odoo"
POSTGRES = "postgres"
POSTGRES_SECRET = "postgres"
POSTGRES_INIT = "postgres-init"
DEDICATED = "dedicated"

# CPU limits are this many times the request: a tenant may use idle CPU for short bursts
# (Odoo's requests are spiky), while its quota still bounds the total.
CPU_BURST = 2


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the tenant's Odoo connects to."""

    server: str  # "postgres-shared-1" ... or "dedicated"
    host: str  # "postgres.postgres-shared-1.svc.cluster.local", or "postgres" (dedicated)
    port: int
    name: str
    user: str
    namespace: str  # namespace of the database pods (the tenant's own when dedicated)


@dataclass(frozen=True)
class TenantSecrets:
    """The tenant's passwords. Never shown by repr(), so they stay out of tracebacks."""

    db_password: str = field(repr=False)
    admin_password: str = field(repr=False)  # Odoo master password (admin_passwd)
    postgres_password: str | None = field(default=None, repr=False)  # dedicated superuser


def cpu_text(value):
    """CPU in Kubernetes' canonical form: whole cores ('2') or millicores ('500m')."""
    millis = math.ceil(Fraction(value) * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def bytes_text(value):
    """Bytes in the largest exact binary (Gi/Mi/Ki) or decimal (G/M/k) unit."""
    count = math.ceil(Fraction(value))
    if count == 0:
        return "0"
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki", "E", "P", "T", "G", "M", "k"):
        factor = int(SUFFIXES[suffix])
        if count % factor == 0:
            return f"{count // factor}{suffix}"
    return str(count)


def base_labels(spec):
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": PART_OF,
        TENANT_LABEL: spec.name,
    }


def component_labels(spec, name, component):
    """Labels of a workload and its pods (also the selectors, which never change)."""
    return {**base_labels(spec), NAME_LABEL: name, COMPONENT_LABEL: component}


def selector(spec, name, component):
    return {TENANT_LABEL: spec.name, NAME_LABEL: name, COMPONENT_LABEL: component}


def metadata(spec, name, labels=None, annotations=None):
    meta = {"name": name, "namespace": spec.namespace, "labels": labels or base_labels(spec)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def check_inputs(spec, database, secrets):
    """Refuse inputs that would produce a broken or injectable manifest. Never echoes a secret."""
    if not isinstance(database, DatabaseTarget):
        raise SpecError("database", "must be a DatabaseTarget")
    if not isinstance(secrets, TenantSecrets):
        raise SpecError("secrets", "must be a TenantSecrets")
    for name in ("server", "host", "name", "user", "namespace"):
        value = getattr(database, name)
        if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9_.-]{1,253}\Z", value):
            raise SpecError(f"database.{name}", f"{value!r} is not a plain host, namespace or identifier")
    if isinstance(database.port, bool) or not isinstance(database.port, int) or not 1 <= database.port <= 65535:
        raise SpecError("database.port", f"must be a TCP port number, got {database.port!r}")
    wanted = ["db_password", "admin_password"]
    if spec.db_strategy == DEDICATED:
        wanted.append("postgres_password")
    for name in wanted:
        value = getattr(secrets, name)
        # odoo.conf is an INI file: a line break would let a password inject options, and
        # surrounding blanks are stripped by the parser.
        if not isinstance(value, str) or not value or value != value.strip() or not value.isprintable():
            raise SpecError(
                f"secrets.{name}",
                "must be a non-empty single-line string without surrounding blanks (value not shown)",
            )
