"""The backup and restore Jobs' program against a dedicated tenant's own PostgreSQL, run for real:
the tenant is provisioned on the large (dedicated) plan by the module; its server is booted here
from the StatefulSet, ConfigMap and Secret the kit applied, read back from the API server, the
way the official image boots (ImageLikeServer, the entrypoint stand-in of
test_dedicated_postgres_scripts: initdb, the init script that creates the tenant's role and
database, then the server on a loopback port). The Jobs are the kit's, run by job_runner with one
more translation than the kubelet stand-in makes for shared servers: PGHOST `postgres` (the
dedicated server's Service in the tenant's namespace) becomes that loopback server."""

from __future__ import annotations

import base64
import os
import subprocess

import psycopg
import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_set
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup import find_tool
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import backup_job as jobs
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.base import POSTGRES, POSTGRES_INIT, POSTGRES_SECRET
from tests.cluster import object_store

from tests.cluster.job_kubelet import register_dedicated, unregister_dedicated

from . import tenants
from .job_runner import run_job
from .test_backup_job import (
    _fingerprint, _files, _job_of, _store, _target_settings, _volume, _write_filestore, _write_odoo_data,
)
from .test_dedicated_postgres_scripts import ImageLikeServer


def _secret(core, namespace, name):
    return {key: base64.b64decode(value).decode() for key, value in core.read_namespaced_secret(name, namespace).data.items()}


def _boot(core, api, record):
    """The tenant's dedicated server booted here from the objects the cluster holds."""
    namespace = record["namespace"]
    statefulset = api.sanitize_for_serialization(client.AppsV1Api(api).read_namespaced_stateful_set(POSTGRES, namespace))
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    server = ImageLikeServer()
    server.install_scripts(core.read_namespaced_config_map(POSTGRES_INIT, namespace).data)
    server.entrypoint(server.container_env(container, _secret(core, namespace, POSTGRES_SECRET)))
    register_dedicated(namespace, server.port)
    return server


@pytest.fixture(scope="module")
def dedicated(core, api, ledger_db, tmp_path_factory):
    """(tenant record, booted server): the dedicated server as the cluster holds its definition."""
    result, failure = tenants.tenant(tenants.params(ledger_db, tmp_path_factory.mktemp("dedicated"),
                                                    name=tenants.unique("bjd"), plan="large"))
    assert failure is None, failure
    record = result["tenant"]
    server = _boot(core, api, record)
    core.create_namespaced_secret(record["namespace"], jobs.target_secret(
        _job_of(record, "backup", "x", None), object_store.ACCESS_KEY, object_store.secret_key()))
    yield record, server
    unregister_dedicated(record["namespace"])
    server.remove()


def _as_tenant(core, record, server):
    creds = _secret(core, record["namespace"], "odoo-db")
    assert creds["host"] == POSTGRES, "Odoo reaches its dedicated server by the Service in its namespace"
    return psycopg.connect(host="127.0.0.1", port=server.port, user=creds["user"], password=creds["password"],
                           dbname=creds["database"], autocommit=True, connect_timeout=5)


def _run(core, batch, record, server, job):
    """The Job as the API server holds it, run here with its database mapped to the booted server."""
    try:
        batch.create_namespaced_job(job.namespace, jobs.backup_job(job))
    except client.ApiException as error:
        if error.status != 409:
            raise
    return run_job(core, batch, job.namespace, job.job_name, {"PGHOST": "127.0.0.1", "PGPORT": str(server.port)})


def test_a_dedicated_tenant_is_backed_up_and_restored_in_place_by_the_jobs(core, api, dedicated):
    record, server = dedicated
    batch = client.BatchV1Api(api)
    prefix = f"dedicated-{record['name']}"
    with _as_tenant(core, record, server) as conn:
        _write_odoo_data(conn)
        backed_up = _fingerprint(conn)
    filestore = os.path.join(_volume(core, record["namespace"]), "filestore", record["database"]["name"])
    _write_filestore(filestore)
    files = _files(filestore)

    backup_id = backup_set.new_backup_id("manual")
    taken = _run(core, batch, record, server, _job_of(record, "backup", backup_id, _target_settings(prefix)))
    assert taken.returncode == 0, taken.output
    manifest = backup_set.read_manifest(_store(prefix), record["name"], backup_id)
    assert manifest.modules == ("base", "sale", "web") and manifest.database == record["database"]["name"]

    with _as_tenant(core, record, server) as conn:
        conn.execute("DELETE FROM res_partner WHERE id > 10")
        conn.execute("CREATE TABLE x_after_the_backup (id int)")
    os.remove(os.path.join(filestore, sorted(files)[0]))
    restore = _job_of(record, "restore", backup_id, _target_settings(prefix), run_id="dedicated-1", replace=True)
    restored = _run(core, batch, record, server, restore)
    assert restored.returncode == 0, restored.output
    with _as_tenant(core, record, server) as conn:
        assert _fingerprint(conn) == backed_up
        owners = {row[0] for row in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert owners == {record["database"]["name"]}, "the restored objects belong to the tenant's role"
    assert _files(filestore) == files


def test_a_dedicated_tenant_is_removed_from_a_controller_with_its_final_backup_taken_in_the_cluster(
        core, api, ledger_db, tmp_path):
    """The module end to end: the final backup Job's pod is run by the kubelet stand-in of
    `make up`, reaching the dedicated server while Odoo is stopped and before the server goes."""
    name = tenants.unique("bjr")
    prefix = f"dedicated-{name}"
    params = tenants.with_backup_target(ledger_db, tmp_path, prefix, name=name, plan="large")
    result, failure = tenants.tenant(params)
    assert failure is None, failure
    record = result["tenant"]
    server = _boot(core, api, record)
    try:
        with _as_tenant(core, record, server) as conn:
            _write_odoo_data(conn)
            backed_up = _fingerprint(conn)
        removed, failure = tenants.tenant(dict(params, state="absent", confirm=name))
        assert failure is None, failure
        assert removed["tenant"]["state"] == "deleted"
        (final,) = backup_set.list_backups(_store(prefix), name).complete
        assert final.kind == "final" and final.modules == ("base", "sale", "web")
    finally:
        unregister_dedicated(record["namespace"])
        server.remove()
    # What the store holds is that data: loaded into a scratch database of a local server.
    dump = backup_set.fetch_part(_store(prefix), final, "database", str(tmp_path), "")
    scratch = f"verify_{name.replace('-', '_')}"
    with tenants.connect(tenants.SHARED_1) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        loaded = subprocess.run([find_tool("pg_restore"), "--no-owner", "--no-acl", "--host=127.0.0.1",
                                 f"--port={tenants.SHARED_1.port}", "--username=postgres", f"--dbname={scratch}", dump],
                                capture_output=True, text=True, check=False,
                                env=dict(os.environ, PGPASSWORD=tenants.SHARED_1.password()))
        assert loaded.returncode == 0, loaded.stderr
        with tenants.connect(tenants.SHARED_1, scratch) as conn:
            assert _fingerprint(conn) == backed_up
    finally:
        with tenants.connect(tenants.SHARED_1) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
