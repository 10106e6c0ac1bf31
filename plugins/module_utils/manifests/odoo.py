# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant's Odoo: filestore claim, database-initialisation Job, web and cron
Deployments, Service and Ingress, all on the official image's conventions (ODOO.md)."""

from __future__ import annotations

import hashlib

from .base import (
    CONFIG_HASH_ANNOTATION, CONFIG_SECRET, CRON, CRON_DEPLOYMENT, DB_INIT, FILESTORE_CLAIM, HTTP_PORT, INGRESS,
    INIT_JOB, NAME_LABEL, ODOO, ODOO_SERVICE, SERVICE_ACCOUNT, TENANT_LABEL, WEB, WEB_DEPLOYMENT, WEBSOCKET_PORT,
    base_labels, bytes_text, component_labels, metadata, selector,
)
from ..request.quantity import exact as quantity
from .odoo_config import (
    CRON_DB_MAXCONN, CRON_THREADS, DATA_DIR, INIT_DB_MAXCONN, LIMIT_TIME_REAL, ODOO_CONF, ODOO_CONF_DIR,
    config_hash, memory_limits,
)
from .quota import cost
from ..request.odoo_versions import ODOO_USER_IDS

TMP_SIZE = "1Gi"
INIT_BACKOFF_LIMIT = 3
INIT_DEADLINE_SECONDS = 1800

# Runs in the Odoo image (python3 and psycopg2 are Odoo's own dependencies). Reads the
# connection from odoo.conf, so no credential is repeated in the Job.
INIT_SCRIPT = '''\
# Initialise the tenant's database once: run the Odoo command given as arguments only when
# the database has no installed `base` module yet, so running the Job again is harmless.
# Then pin the URLs Odoo writes into mails (web.base.url) and uses to render PDF reports
# (report.url: its own Service, reachable from inside the namespace).
import configparser
import os
import subprocess
import sys
import time

import psycopg2

conf = configparser.RawConfigParser()
conf.read("/etc/odoo/odoo.conf")
db = conf.get("options", "db_name")
params = dict(host=conf.get("options", "db_host"), port=conf.getint("options", "db_port"),
              user=conf.get("options", "db_user"), password=conf.get("options", "db_password"),
              dbname=db, connect_timeout=5)
deadline = time.monotonic() + 120
while True:
    try:
        connection = psycopg2.connect(**params)
        break
    except psycopg2.OperationalError as error:
        if time.monotonic() > deadline:
            sys.exit("database %s is not reachable: %s" % (db, str(error).strip()))
        print("waiting for database %s" % db, flush=True)
        time.sleep(3)
try:
    with connection.cursor() as cr:
        cr.execute("SELECT to_regclass('public.ir_module_module') IS NOT NULL")
        initialised = cr.fetchone()[0]
        if initialised:
            cr.execute("SELECT state FROM ir_module_module WHERE name = 'base'")
            row = cr.fetchone()
            initialised = row is not None and row[0] == "installed"
finally:
    connection.close()
if initialised:
    print("database %s is already initialised" % db, flush=True)
else:
    print("initialising database %s" % db, flush=True)
    code = subprocess.call(sys.argv[1:])
    if code:
        sys.exit(code)
connection = psycopg2.connect(**params)
with connection, connection.cursor() as cr:
    for key, value in (("web.base.url", os.environ["ODOO_WEB_BASE_URL"]), ("web.base.url.freeze", "True"),
                       ("report.url", os.environ["ODOO_REPORT_URL"])):
        cr.execute("INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
                   "VALUES (%s, %s, now() at time zone 'UTC', now() at time zone 'UTC') "
                   "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (key, value))
connection.close()
print("web.base.url and report.url set", flush=True)
'''


def filestore_claim(spec, platform):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(spec, FILESTORE_CLAIM),
        "spec": {
            "storageClassName": platform.storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": bytes_text(quantity(spec.plan.storage))}},
        },
    }


def _single_process_flags(spec, db_maxconn):
    """Sizing flags of a threaded, single-process Odoo (cron, init): it has the whole pod."""
    soft, hard = memory_limits(spec.plan.memory, 1)
    return [f"--limit-memory-soft={soft}", f"--limit-memory-hard={hard}", f"--db_maxconn={db_maxconn}"]


def _container(spec, component, command, args, extra=None):
    container = {
        "name": "odoo",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        # `odoo` itself, not the image's entrypoint: odoo.conf already names the database,
        # and the entrypoint would copy the password from it onto the command line.
        "command": command,
        "args": args,
        # Fewer malloc arenas keep the virtual size, which Odoo's memory limits measure,
        # close to the resident size.
        "env": [{"name": "MALLOC_ARENA_MAX", "value": "2"}],
        "resources": cost(spec.plan, component, spec.db_strategy).resources(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "volumeMounts": [
            {"name": "filestore", "mountPath": DATA_DIR},
            {"name": "config", "mountPath": ODOO_CONF_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    container.update(extra or {})
    return container


def _pod_spec(spec, container, restart_policy=None):
    uid, gid = ODOO_USER_IDS[spec.odoo_version]
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            # The image's `odoo` user must be able to write the filestore on the claim.
            "fsGroup": gid,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The filestore is ReadWriteOnce: every pod mounting it (web, cron, init) must run on
        # the node it is attached to. Each one requires a node that already runs one of the
        # tenant's Odoo pods; the first (which matches its own term) may go anywhere.
        "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {TENANT_LABEL: spec.name, NAME_LABEL: ODOO}},
            "topologyKey": "kubernetes.io/hostname",
        }]}},
        "containers": [container],
        "volumes": [
            {"name": "filestore", "persistentVolumeClaim": {"claimName": FILESTORE_CLAIM}},
            {"name": "config", "secret": {
                "secretName": CONFIG_SECRET, "defaultMode": 0o440, "items": [{"key": "odoo.conf", "path": "odoo.conf"}],
            }},
            # Odoo and wkhtmltopdf write temporary files; the root filesystem is read-only.
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}},
        ],
    }
    if restart_policy:
        pod["restartPolicy"] = restart_policy
    return pod


def init_job(spec, database):
    """Initialise the database (`-i base`) once; see INIT_SCRIPT. Its pod template does not
    carry the config hash: a Job's template is immutable once created."""
    odoo = ["odoo", "-c", ODOO_CONF, "-d", database.name, "-i", "base", "--stop-after-init", "--no-http",
            "--workers=0", "--max-cron-threads=0", *_single_process_flags(spec, INIT_DB_MAXCONN)]
    if spec.odoo_version != "19.0":
        odoo.append("--without-demo=all")
    container = _container(spec, DB_INIT, ["python3", "-c", INIT_SCRIPT], odoo)
    container["env"] = container["env"] + [
        {"name": "ODOO_WEB_BASE_URL", "value": f"https://{spec.primary_host}"},
        {"name": "ODOO_REPORT_URL", "value": f"http://{ODOO_SERVICE}:{HTTP_PORT}"},
    ]
    labels = component_labels(spec, ODOO, DB_INIT)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(spec, INIT_JOB, labels),
        "spec": {
            "backoffLimit": INIT_BACKOFF_LIMIT,
            "activeDeadlineSeconds": INIT_DEADLINE_SECONDS,
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(spec, container, "Never")},
        },
    }


# Probes of the web pod, all on Odoo's own /web/health. Liveness restarts a server that has
# not answered for longer than limit_time_real: a worker serving a long report (up to
# LIMIT_TIME_REAL) may keep every worker busy, and Odoo itself kills a request that runs past
# it, so only a dead or hung server fails liveness. Startup gives a first boot as long as the
# init Job may take (module installs and upgrades load on start); readiness takes a busy or
# starting pod out of the Service without restarting it.
LIVENESS_PERIOD_SECONDS = 60
LIVENESS_TIMEOUT_SECONDS = 10
LIVENESS_FAILURES = LIMIT_TIME_REAL // LIVENESS_PERIOD_SECONDS + 1
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = INIT_DEADLINE_SECONDS // STARTUP_PERIOD_SECONDS


def _health(period, timeout, failures):
    return {"httpGet": {"path": "/web/health", "port": "http"}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures}


def _deployment(spec, name, component, replicas, container, conf):
    labels = component_labels(spec, ODOO, component)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec, name, labels),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 3,
            # Recreate: the old pods release the ReadWriteOnce filestore (and the quota)
            # before new ones start.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(spec, ODOO, component)},
            "template": {
                "metadata": {"labels": labels, "annotations": {CONFIG_HASH_ANNOTATION: config_hash(conf)}},
                "spec": _pod_spec(spec, container),
            },
        },
    }


def web_deployment(spec, conf, suspended):
    ports = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
    if spec.plan.workers > 0:
        ports.append({"name": "websocket", "containerPort": WEBSOCKET_PORT, "protocol": "TCP"})
    container = _container(spec, WEB, ["odoo"], ["-c", ODOO_CONF, "--max-cron-threads=0"], {
        "ports": ports,
        "startupProbe": _health(STARTUP_PERIOD_SECONDS, 5, STARTUP_FAILURES),
        "readinessProbe": _health(10, 5, 3),
        "livenessProbe": _health(LIVENESS_PERIOD_SECONDS, LIVENESS_TIMEOUT_SECONDS, LIVENESS_FAILURES),
    })
    return _deployment(spec, WEB_DEPLOYMENT, WEB, 0 if suspended else spec.plan.replicas, container, conf)


def cron_deployment(spec, conf, suspended):
    args = ["-c", ODOO_CONF, "--no-http", "--workers=0", f"--max-cron-threads={CRON_THREADS}",
            *_single_process_flags(spec, CRON_DB_MAXCONN)]
    container = _container(spec, CRON, ["odoo"], args)
    return _deployment(spec, CRON_DEPLOYMENT, CRON, 0 if suspended else 1, container, conf)


def service(spec):
    ports = [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}]
    if spec.plan.workers > 0:
        ports.append({"name": "websocket", "port": WEBSOCKET_PORT, "targetPort": "websocket", "protocol": "TCP"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec, ODOO_SERVICE, component_labels(spec, ODOO, WEB)),
        "spec": {"type": "ClusterIP", "selector": selector(spec, ODOO, WEB), "ports": ports},
    }


# The primary host keeps the name a tenant's single certificate had before there was one per
# host: upgrading re-issues only tenants with custom domains, and Let's Encrypt issues at most
# 50 new certificates a week per registered domain, which every primary host shares.
PRIMARY_TLS_SECRET = "odoo-tls"
TLS_SECRET_PREFIX = "odoo-tls-"
# cert-manager derives label values (at most 63 characters) from the Certificate's name,
# which ingress-shim takes from the secret name, plus a suffix of up to 10 characters.
TLS_SECRET_MAX_LENGTH = 52
TLS_SECRET_HASH_LENGTH = 10


def tls_secret_name(host, primary_host):
    """The Secret (and cert-manager Certificate) of one host: `odoo-tls` for the tenant's
    primary host, `odoo-tls-<host>` for another, or, for a long host, its beginning and a hash
    of the whole host, so that it stays unique."""
    if host == primary_host:
        return PRIMARY_TLS_SECRET
    name = TLS_SECRET_PREFIX + host
    if len(name) <= TLS_SECRET_MAX_LENGTH:
        return name
    digest = hashlib.sha256(host.encode("utf-8")).hexdigest()[:TLS_SECRET_HASH_LENGTH]
    keep = TLS_SECRET_MAX_LENGTH - len(TLS_SECRET_PREFIX) - 1 - TLS_SECRET_HASH_LENGTH
    return f"{TLS_SECRET_PREFIX}{host[:keep].rstrip('.-')}-{digest}"


def ingress(spec, platform):
    def backend(port):
        return {"service": {"name": ODOO_SERVICE, "port": {"number": port}}}

    # /websocket goes to the gevent port only in multi-process mode (spec.websocket_port).
    paths = [
        {"path": "/websocket", "pathType": "Prefix", "backend": backend(spec.websocket_port)},
        {"path": "/", "pathType": "Prefix", "backend": backend(HTTP_PORT)},
    ]
    annotations = {
        "cert-manager.io/cluster-issuer": platform.cert_issuer,
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.tls": "true",
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(spec, INGRESS, base_labels(spec), annotations),
        "spec": {
            "ingressClassName": platform.ingress_class,
            "rules": [{"host": host, "http": {"paths": paths}} for host in spec.hosts],
            # One certificate per host: a host whose DNS does not point here yet fails only
            # its own ACME order.
            "tls": [{"hosts": [host], "secretName": tls_secret_name(host, spec.primary_host)}
                    for host in spec.hosts],
        },
    }
