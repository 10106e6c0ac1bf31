# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dedicated PostgreSQL server in the tenant's namespace, on the official `postgres` Debian
images' conventions (uid/gid 999, PGDATA under the volume, docker-entrypoint-initdb.d), at the
exact build the platform names (postgres_image)."""

from __future__ import annotations

from .base import (
    DATABASE, POSTGRES, POSTGRES_INIT, POSTGRES_PORT, POSTGRES_SECRET, POSTGRESQL, base_labels, bytes_text,
    component_labels, metadata, selector,
)
from ..request.quantity import exact as quantity
from .quota import cost

POSTGRES_UID = 999
DATA_MOUNT = "/var/lib/postgresql/data"
PGDATA = DATA_MOUNT + "/pgdata"  # a subdirectory: a volume's root may hold lost+found
SUPERUSER_KEY = "postgres-password"
TENANT_KEY = "tenant-password"
INIT_SCRIPT_NAME = "10-tenant.sh"
CONNECTION_LIMIT_SCRIPT_NAME = "connection-limit.sh"
SCRIPTS_MOUNT = "/opt/odoo-saas"

# Run by the image's entrypoint once, when it initialises an empty data directory. The
# values come from the container's environment through psql's \getenv (psql 15+), so no
# password is written here or passed on a command line; psql quotes them (:'' and :"").
INIT_SCRIPT = r'''#!/bin/bash
# The tenant's role (no superuser, no CREATEDB, no CREATEROLE, a connection limit) and its
# database, owned by that role, which PUBLIC may not connect to.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\getenv tenant_role TENANT_ROLE
\getenv tenant_database TENANT_DATABASE
\getenv tenant_password TENANT_PASSWORD
\getenv tenant_connection_limit TENANT_CONNECTION_LIMIT
CREATE ROLE :"tenant_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  CONNECTION LIMIT :tenant_connection_limit PASSWORD :'tenant_password';
CREATE DATABASE :"tenant_database" OWNER :"tenant_role" ENCODING 'UTF8' LC_COLLATE 'C' TEMPLATE template0;
REVOKE CONNECT, TEMPORARY ON DATABASE :"tenant_database" FROM PUBLIC;
SQL
'''

# Run by the container's postStart hook on every start, beside the image's entrypoint: the init
# script above runs on the first boot only, so a plan change (TENANT_CONNECTION_LIMIT is in the
# pod template: a change rolls the StatefulSet) would never reach the role. The hook's process
# has the container's environment only (not the entrypoint's exports: no POSTGRES_USER), and
# connects through the Unix socket once the server answers.
CONNECTION_LIMIT_SCRIPT = r'''#!/bin/bash
# Set the tenant role's CONNECTION LIMIT to the plan's, retrying while the server starts (crash
# recovery, or on the first boot the init script that creates the role). It always exits 0:
# a failing postStart hook would kill the container, and the server must start even when this
# step cannot finish; then the limit stays as it was until the next start tries again.
set -u
log() {
  # PID 1's stderr is the container's log (kubectl logs); elsewhere, this script's own.
  { echo "odoo-saas connection-limit: $*" >/proc/1/fd/2; } 2>/dev/null || echo "odoo-saas connection-limit: $*" >&2
}
limit="${TENANT_CONNECTION_LIMIT:-}"
if [[ ! "$limit" =~ ^[0-9]{1,9}$ ]]; then
  log "TENANT_CONNECTION_LIMIT is not a whole number; the role's limit is left as it was"
  exit 0
fi
export PGPASSWORD="${PGPASSWORD:-${POSTGRES_PASSWORD:-}}"  # in case local connections need a password
deadline=$((SECONDS + ${CONNECTION_LIMIT_WAIT:-120}))
while :; do
  if error=$(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
      2>&1 >/dev/null <<'SQL'
\getenv tenant_role TENANT_ROLE
\getenv tenant_connection_limit TENANT_CONNECTION_LIMIT
ALTER ROLE :"tenant_role" CONNECTION LIMIT :tenant_connection_limit;
SQL
  ); then
    log "role ${TENANT_ROLE} may hold ${limit} connections"
    exit 0
  fi
  if (( SECONDS >= deadline )); then
    log "could not set the limit of role ${TENANT_ROLE} to ${limit} (${error//$'\n'/ }); left as it was until the next start"
    exit 0
  fi
  sleep 2
done
'''


def postgres_secret(spec, secrets):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(spec, POSTGRES_SECRET, component_labels(spec, POSTGRESQL, DATABASE)),
        "type": "Opaque",
        "stringData": {SUPERUSER_KEY: secrets.postgres_password, TENANT_KEY: secrets.db_password},
    }


def init_config_map(spec):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(spec, POSTGRES_INIT, component_labels(spec, POSTGRESQL, DATABASE)),
        "data": {INIT_SCRIPT_NAME: INIT_SCRIPT, CONNECTION_LIMIT_SCRIPT_NAME: CONNECTION_LIMIT_SCRIPT},
    }


def postgres_service(spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, POSTGRES, component_labels(spec, POSTGRESQL, DATABASE)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec, POSTGRESQL, DATABASE),
            "ports": [{"name": "postgres", "port": POSTGRES_PORT, "targetPort": "postgres", "protocol": "TCP"}],
        },
    }


def _secret_env(name, key):
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": POSTGRES_SECRET, "key": key}}}


def _ready(period, timeout, failures):
    command = ["pg_isready", "--host", "127.0.0.1", "--port", str(POSTGRES_PORT), "--username", "postgres",
               "--dbname", "postgres"]
    return {"exec": {"command": command}, "periodSeconds": period, "timeoutSeconds": timeout, "failureThreshold": failures}


def _script_volume(name, key):
    # Executable, so the entrypoint runs it rather than sourcing it into its own shell.
    return {"name": name, "configMap": {"name": POSTGRES_INIT, "defaultMode": 0o555,
                                        "items": [{"key": key, "path": key}]}}


def postgres_statefulset(spec, platform, suspended):
    plan = spec.plan
    labels = component_labels(spec, POSTGRESQL, DATABASE)
    args = ["postgres"]
    for name, value in plan.postgresql_settings:
        args += ["-c", f"{name}={value}"]
    container = {
        "name": "postgres",
        "image": platform.postgres_image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": [
            _secret_env("POSTGRES_PASSWORD", SUPERUSER_KEY),
            {"name": "PGDATA", "value": PGDATA},
            {"name": "TENANT_ROLE", "value": spec.role},
            {"name": "TENANT_DATABASE", "value": spec.database},
            {"name": "TENANT_CONNECTION_LIMIT", "value": str(plan.db_connection_limit)},
            _secret_env("TENANT_PASSWORD", TENANT_KEY),
        ],
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT, "protocol": "TCP"}],
        "resources": cost(plan, DATABASE, spec.db_strategy).resources(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        # Crash recovery after an unclean stop can take long: liveness waits for startup.
        "startupProbe": _ready(10, 5, 90),
        "readinessProbe": _ready(10, 5, 3),
        "lifecycle": {"postStart": {"exec": {"command": ["/bin/bash", f"{SCRIPTS_MOUNT}/{CONNECTION_LIMIT_SCRIPT_NAME}"]}}},
        "livenessProbe": _ready(30, 10, 6),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True},
            {"name": "scripts", "mountPath": SCRIPTS_MOUNT, "readOnly": True},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
    }
    pod = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 60,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": POSTGRES_UID,
            "runAsGroup": POSTGRES_UID,
            "fsGroup": POSTGRES_UID,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            _script_volume("init", INIT_SCRIPT_NAME),  # only the init script: the entrypoint runs all it finds
            _script_volume("scripts", CONNECTION_LIMIT_SCRIPT_NAME),
            {"name": "run", "emptyDir": {}},  # the Unix socket (the root filesystem is read-only)
            {"name": "tmp", "emptyDir": {}},
            # Parallel queries use POSIX shared memory; the runtime's default /dev/shm is 64 MiB.
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": bytes_text(quantity(plan.db_memory) / 4)}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(spec, POSTGRES, labels),
        "spec": {
            "replicas": 0 if suspended else 1,
            "serviceName": POSTGRES,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector(spec, POSTGRESQL, DATABASE)},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {"metadata": {"labels": labels}, "spec": pod},
            # Immutable once created: a larger db_storage is a resize of the claim itself.
            "volumeClaimTemplates": [{
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "labels": base_labels(spec)},
                "spec": {
                    "storageClassName": platform.storage_class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": bytes_text(quantity(plan.db_storage))}},
                },
            }],
        },
    }


def dedicated_objects(spec, platform, secrets, suspended):
    return [
        postgres_secret(spec, secrets),
        init_config_map(spec),
        postgres_service(spec),
        postgres_statefulset(spec, platform, suspended),
    ]
