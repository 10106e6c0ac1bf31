"""What a tenant left behind, compared with what its ledger state allows: the checks that the
crash-consistency and fault tests run after a killed or failed run was run again.

`leftovers()` returns a list of problems (empty when all is as it must be), so that a suite can
both assert on it and count what it found."""

from __future__ import annotations

import glob
import json
import os
import subprocess

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup, filestore, ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import KINDS, Kube
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.base import TENANT_LABEL

from . import tenants

PARTIAL = f"*{backup.PARTIAL_MARK}*"


def kube():
    """Our own REST client on the admin kubeconfig (a Kube; close() it)."""
    return Kube.connect(kubeconfig=str(tenants.control_plane.layout().kubeconfig))


def labelled_objects(api, name):
    """(kind, namespace, name) of every object of a kind the collection manages that carries the
    tenant's label, in any namespace."""
    found = []
    for (api_version, kind), (plural, _namespaced) in KINDS.items():
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        listed = api.request("GET", f"{base}/{plural}", query={"labelSelector": f"{TENANT_LABEL}={name}"}) or {}
        found += [(kind, item["metadata"].get("namespace"), item["metadata"]["name"]) for item in listed.get("items", [])]
    return found


def database_on(server, database, role):
    """(database exists, role exists) on one server (tests.cluster.postgres.Server-like)."""
    with tenants.connect(server) as conn:
        return (conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None,
                conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None)


def record_of(ledger_db, name, ledger_server=None):
    with tenants.connect(ledger_server or tenants.LEDGER, ledger_db) as conn:
        return ledger.get_tenant(conn, name), sorted(row[0] for row in conn.execute(
            "SELECT host FROM tenant_hosts WHERE tenant = %s", (name,)).fetchall())


def backup_files(directory):
    """(finished backups, partial temporaries) in a backup directory."""
    directory = str(directory)
    hidden = glob.glob(os.path.join(directory, ".*")) + glob.glob(os.path.join(directory, PARTIAL))
    return sorted(glob.glob(os.path.join(directory, "*.dump"))), sorted(set(hidden))


def leftovers(ledger_db, name, state, backup_dir, servers, *, ledger_server=None, backup_taken=True,
              backup_holds=None):
    """Problems found for tenant `name`, whose ledger row must now be in `state`.

    - objects: every namespaced object with the tenant's label is in namespace tenant-<name>;
      none at all (and no namespace) once deleted;
    - PostgreSQL: the role and database exist on the server the ledger placed it on and on no
      other of `servers` ({name: Server}); on none once deleted;
    - ledger: one row in `state`, its hosts claimed while it lives and released once deleted;
    - backups: none while it lives; once deleted (with `backup_taken`), exactly one finished file,
      the one the ledger records, verified by pg_restore with the recorded sha256, holding
      `backup_holds` (a table name) when given; never a partial temporary.
    """
    problems = []
    namespace = f"tenant-{name}"
    record, hosts = record_of(ledger_db, name, ledger_server)
    if record is None:
        return [f"ledger: no row for tenant {name}"]
    if record.state != state:
        problems.append(f"ledger: tenant {name} is {record.state}, expected {state}")
    deleted = state == "deleted"
    if deleted and hosts:
        problems.append(f"ledger: hosts still claimed after deletion: {hosts}")
    if not deleted and hosts != sorted(record.hosts):
        problems.append(f"ledger: claimed hosts {hosts} differ from the record's {sorted(record.hosts)}")

    api = kube()
    try:
        objects = labelled_objects(api, name)
        namespace_live = api.get("v1", "Namespace", namespace) is not None
    finally:
        api.close()
    outside = [o for o in objects if o[1] is not None and o[1] != namespace]  # cluster-scoped: namespace None
    if outside:
        problems.append(f"objects outside {namespace}: {outside}")
    if deleted and (objects or namespace_live):
        problems.append(f"objects left after deletion: namespace live={namespace_live}, {objects}")
    if not deleted and not namespace_live:
        problems.append(f"namespace {namespace} is missing")

    for server_name, server in servers.items():
        placed = not deleted and record.db_strategy == "shared" and record.server == server_name
        found = database_on(server, record.database, naming.role_for(name))
        if found != (placed, placed):
            where = "its placed server" if placed else "a server it is not placed on"
            problems.append(f"PostgreSQL: (database, role) {record.database} on {server_name} ({where}) is {found}")

    finished, partial = backup_files(backup_dir)
    partial = [p for p in partial if not p.endswith(".lock")]
    if partial:
        problems.append(f"backups: partial or temporary files left: {partial}")
    archives = sorted(glob.glob(os.path.join(str(backup_dir), "*" + filestore.SUFFIX)))
    if deleted and backup_taken:
        problems += _backup_problems(record, finished, backup_holds)
        problems += _archive_problems(record, archives)
    elif finished or archives:
        problems.append(f"backups: unexpected files {finished + archives}")
    return problems


def _archive_problems(record, archives):
    """Exactly the filestore archive the ledger records, complete, with the recorded sha256."""
    recorded = record.filestore_backup or {}
    if archives != [recorded.get("location")]:
        return [f"backups: expected exactly the recorded filestore archive {recorded.get('location')}, found {archives}"]
    try:
        if filestore.existing_archive(archives[0]).sha256 != recorded.get("sha256"):
            return ["backups: the filestore archive's sha256 differs from the recorded one"]
    except backup.BackupError as error:
        return [f"backups: the recorded filestore archive does not verify: {error}"]
    return []


def _backup_problems(record, finished, table):
    if finished != [record.backup_location]:
        return [f"backups: expected exactly the recorded {record.backup_location}, found {finished}"]
    try:
        backup.verify_backup(record.backup_location)
    except backup.BackupError as error:
        return [f"backups: the recorded backup does not verify: {error}"]
    problems = []
    if backup.existing_backup(record.backup_location).sha256 != record.backup_sha256:
        problems.append("backups: the recorded sha256 differs from the file's")
    if table and f" TABLE DATA public {table} " not in _listing(record.backup_location):
        problems.append(f"backups: table {table} is not in the backup")
    return problems


def _listing(path):
    return subprocess.run([backup.find_tool("pg_restore"), "--list", path], capture_output=True, text=True,
                          check=True).stdout


def put_marker_table(server, record, db_password, table="crash_marker", rows=100):
    """A table with rows in the tenant's database, created as the tenant's role (with the
    password its Secret holds), to find in the backup."""
    with tenants.connect(server, record.database, user=naming.role_for(record.name), password=db_password) as conn:
        conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, note text NOT NULL)")
        conn.execute(f"INSERT INTO {table} SELECT g, 'row ' || g FROM generate_series(1, %s) g", (rows,))
    return table


def platform_secrets(module_params):
    """The platform passwords among the module parameters."""
    found = [module_params["ledger"]["password"]]
    found += [server["admin_password"] for server in module_params.get("shared_servers") or []]
    return [value for value in found if value]


def leaked(secrets, *texts):
    """The secrets (shortened, never shown whole) that appear in any of the texts or results."""
    joined = "\n".join(text if isinstance(text, str) else json.dumps(text, default=str) for text in texts)
    return [secret[:3] + "..." for secret in secrets if secret and secret in joined]
