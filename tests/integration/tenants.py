"""Helpers for tenant tests: module parameters against a scratch ledger database on the
real local servers, and read-back of what a tenant left in the cluster and on the servers."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger, pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from tests.cluster import control_plane, postgres
from tests.unit.plans_fixture import raw_plans

LEDGER, SHARED_1, SHARED_2 = postgres.SERVERS
REPO = Path(__file__).resolve().parents[2]


def connect(server, dbname="postgres", user="postgres", password=None):
    return psycopg.connect(host="127.0.0.1", port=server.port, user=user, password=password or server.password(),
                           dbname=dbname, autocommit=True, connect_timeout=5)


def server_counts(conn):
    """{server: (tenants placed, capacity)} from the ledger."""
    return {name: (usage.tenants, usage.capacity) for name, usage in ledger.server_usage(conn).items()}


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_ledger(capacity=50, servers=(SHARED_1, SHARED_2)):
    """A fresh, migrated ledger database with the shared servers registered (both, by default)."""
    name = f"ledger_{uuid.uuid4().hex[:8]}"
    with connect(LEDGER) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with connect(LEDGER, name) as conn:
        ledger.migrate(conn)
        for server in servers:
            with connect(server) as admin:
                max_connections, reserved = pg.connection_budget(admin)
            ledger.register_server(conn, server.name, "127.0.0.1", server.port, capacity,
                                   max_connections=max_connections, reserved_connections=reserved)
    return name


def remove_all(ledger_db, backup_dir, width=4, **overrides):
    """Decommission (without backup) every tenant a test ledger still holds, `width` at a time (a
    removal mostly waits for its namespace to terminate, so they overlap)."""
    with connect(LEDGER, ledger_db) as conn:
        living = [record.name for record in ledger.list_tenants(conn)]
    removals = [params(ledger_db, backup_dir, name=name, state="absent", confirm=name, backup=False, **overrides)
                for name in living]
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(lambda removal: run_tenant(removal, False), removals))


def drop_ledger(name):
    with connect(LEDGER) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def params(ledger_db, backup_dir, **overrides):
    """Module parameters, as playbooks pass them through odoo_saas_module_defaults."""
    values = {
        "kubeconfig": str(control_plane.layout().kubeconfig),
        "ledger": {"host": "127.0.0.1", "port": LEDGER.port, "database": ledger_db, "user": "postgres",
                   "password": LEDGER.password(), "sslmode": "prefer"},
        "shared_servers": [
            {"name": s.name, "host": "127.0.0.1", "port": s.port, "admin_user": "postgres",
             "admin_password": s.password(), "sslmode": "prefer"} for s in (SHARED_1, SHARED_2)],
        "environment": "local", "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
        "plans": raw_plans(), "ingress_class": "traefik", "ingress_namespace": "traefik", "cert_issuer": "selfsigned",
        "storage_class": "microk8s-hostpath", "shared_server_capacity": 50, "backup_dir": str(backup_dir),
        "deletion_protection": False, "state": "present", "db_strategy": "auto", "domains": [],
        "odoo_version": "18.0", "wait": True, "wait_timeout": 120, "backup": True,
    }
    values.update(overrides)
    return values


def with_backup_target(ledger_db, backup_dir, prefix, **overrides):
    """Module parameters with the local SeaweedFS as backup target under `prefix`, and the
    kubelet stand-in's image for the Jobs (it runs their pods)."""
    from tests.cluster import object_store
    from tests.cluster.job_kubelet import STAND_IN_IMAGE

    target = {"kind": "s3", "endpoint": f"http://{object_store.endpoint()}", "bucket": object_store.BUCKET,
              "prefix": prefix, "access_key": object_store.ACCESS_KEY, "secret_key": object_store.secret_key(),
              "egress_cidrs": ["127.0.0.1/32"]}
    return params(ledger_db, backup_dir, backup_target=target, backup_image=STAND_IN_IMAGE, **overrides)


def tenant(module_params, check_mode=False):
    """Run the tenant module's core in this process; returns (result, failure)."""
    return run_tenant(module_params, check_mode)


def tenant_in_subprocess(module_params, env=None, entry=("tenant", "run_tenant")):
    """Run a module's core (front/<entry[0]>.<entry[1]>, the tenant module's by default) in a
    child process, which a crash point may kill."""
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
            f"from ansible_collections.odoo_saas.kit.plugins.module_utils.front.{entry[0]} import {entry[1]} as run\n"
            "result, failure = run(json.load(sys.stdin), False, progress=lambda m: print(m, file=sys.stderr))\n"
            "print(json.dumps({'result': result, 'failure': failure}))\n")
    return subprocess.run([sys.executable, "-c", code, str(REPO / "collections"), str(REPO)],
                          input=json.dumps(module_params), capture_output=True, text=True, env=env, timeout=300,
                          check=False)


def secrets_of(core, namespace):
    """Every password stored in the namespace's Secrets (decoded), to look for leaks."""
    import base64
    values = []
    for secret in core.list_namespaced_secret(namespace).items:
        for key, value in (secret.data or {}).items():
            decoded = base64.b64decode(value).decode(errors="replace")
            if "passw" in key.lower():
                values.append(decoded)
            values.extend(line.split("=", 1)[1].strip() for line in decoded.splitlines()
                          if "passw" in line.split("=", 1)[0] and "=" in line)
    return [v for v in values if v]


def upload_odoo_export(key, rows=("imported 1", "imported 2"), attachment=b"an attachment"):
    """An export as Odoo's database manager writes it (dump.sql of pg_dump --no-owner with a
    res_partner table holding `rows`, filestore/, manifest.json), uploaded to the local object
    store at `key` below the local inventory's prefix."""
    import hashlib
    import io
    import zipfile

    from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
    from tests.cluster import object_store

    digest = hashlib.sha1(attachment).hexdigest()
    values = ", ".join("('" + row.replace("'", "''") + "')" for row in rows)
    export = io.BytesIO()
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("dump.sql", "CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar);\n"
                                     f"INSERT INTO res_partner (name) VALUES {values};\n")
        archive.writestr("manifest.json", json.dumps({"odoo_dump": "1", "db_name": "legacy", "version": "18.0",
                                                      "major_version": "18.0", "modules": {"base": "18.0.1.3"}}))
        archive.writestr(f"filestore/{digest[:2]}/{digest}", attachment)
    store = open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                              prefix="local", access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))
    store.put_bytes(key, export.getvalue())
