"""The backup and restore Jobs' program, run for real: from the Job as the API server holds it,
with the environment its container gets (job_runner, the stand-in for the kubelet), against
a tenant provisioned by the module, the real shared PostgreSQL server, the filestore's volume
directory and the real S3 server (SeaweedFS) of `make up`.

The data is what Odoo leaves behind, written as the tenant's own role: tables, a sequence, an
index, the pg_trgm extension Odoo creates, installed modules in ir_module_module, and
attachments under filestore/<database>/. "Restores to the same data" means: every table's row
count and an md5 of its rows in id order, every sequence's position and every filestore file
byte for byte are equal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import uuid
import zipfile

import psycopg
import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.crashpoints import VARIABLE
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_set, encryption
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup import find_tool
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.object_store import Target, open_store
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import backup_job as jobs
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import job_contract
from tests.cluster import object_store

from . import tenants
from .conftest import wait_for
from .job_runner import run_job
from .tcp_proxy import TcpProxy

IMAGE = "localhost:32000/odoo-saas-backup:test"
SHARED_1 = tenants.SHARED_1
MARKER = "a customer's private note 7f3a"


@pytest.fixture(scope="module")
def batch(api):
    return client.BatchV1Api(api)


@pytest.fixture(scope="module")
def prefix():
    return f"test-{uuid.uuid4().hex[:8]}"


def _target_settings(prefix, endpoint=None):
    return jobs.BackupTargetSettings(kind="s3", endpoint=endpoint or f"http://{object_store.endpoint()}",
                                     bucket=object_store.BUCKET, prefix=prefix)


def _store(prefix):
    return open_store(Target(kind="s3", endpoint=f"http://{object_store.endpoint()}", bucket=object_store.BUCKET,
                             prefix=prefix, access_key=object_store.ACCESS_KEY, secret_key=object_store.secret_key()))


def _credentials(core, namespace):
    secret = core.read_namespaced_secret("odoo-db", namespace)
    return {key: base64.b64decode(value).decode() for key, value in secret.data.items()}


def _as_tenant(core, namespace, database=None):
    """A connection as the tenant's own role, as Odoo holds one."""
    creds = _credentials(core, namespace)
    return psycopg.connect(host="127.0.0.1", port=SHARED_1.port, user=creds["user"], password=creds["password"],
                           dbname=database or creds["database"], autocommit=True, connect_timeout=5)


def _write_odoo_data(conn):
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL, comment text)")
    conn.execute("CREATE INDEX res_partner_name_trgm ON res_partner USING gin (name gin_trgm_ops)")
    conn.execute("INSERT INTO res_partner (name, comment) SELECT 'Partner ' || i, md5(i::text) "
                 "FROM generate_series(1, 2000) AS i")
    conn.execute("INSERT INTO res_partner (name, comment) VALUES ('Owner', %s)", (MARKER,))
    conn.execute("CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL, state varchar)")
    conn.execute("INSERT INTO ir_module_module (name, state) VALUES ('base', 'installed'), ('web', 'installed'), "
                 "('sale', 'installed'), ('crm', 'uninstalled')")
    conn.execute("CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar, store_fname varchar, "
                 "checksum varchar, db_datas bytea)")
    conn.execute("INSERT INTO ir_attachment (name, db_datas) VALUES ('inline.bin', %s)", (os.urandom(200_000),))


def _fingerprint(conn):
    """{table: (rows, md5 of the rows in id order)} and {sequence: last_value}."""
    tables = [row[0] for row in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
    found = {}
    for table in tables:
        found[table] = conn.execute(
            f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t.id), \'\')) FROM "{table}" t'
        ).fetchone()
    for (sequence,) in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"):
        found[f"sequence {sequence}"] = conn.execute(f'SELECT last_value FROM "{sequence}"').fetchone()
    found["extensions"] = tuple(row[0] for row in conn.execute("SELECT extname FROM pg_extension ORDER BY 1"))
    return found


def _volume(core, namespace):
    claim = core.read_namespaced_persistent_volume_claim("odoo-filestore", namespace)
    return core.read_persistent_volume(claim.spec.volume_name).spec.host_path.path


def _write_filestore(directory):
    """Attachments as Odoo stores them: filestore/<db>/<first 2 of sha1>/<sha1>."""
    for size in (10, 4096, 3 * 1024 * 1024):
        data = os.urandom(size)
        digest = hashlib.sha1(data).hexdigest()
        path = os.path.join(directory, digest[:2], digest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def _files(directory):
    found = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, directory)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def _provision(core, ledger_db, tmp_path_factory, prefix):
    result, failure = tenants.tenant(tenants.params(ledger_db, tmp_path_factory.mktemp("backups"),
                                                    name=tenants.unique(prefix), plan="small"))
    assert failure is None, failure
    record = result["tenant"]
    core.create_namespaced_secret(record["namespace"], jobs.target_secret(
        _job_of(record, "backup", "x", None), object_store.ACCESS_KEY, object_store.secret_key()))
    return record


@pytest.fixture(scope="module")
def tenant(core, ledger_db, tmp_path_factory):
    """A provisioned shared tenant with Odoo's kind of data in its database and filestore."""
    record = _provision(core, ledger_db, tmp_path_factory, "bj")
    with _as_tenant(core, record["namespace"]) as conn:
        _write_odoo_data(conn)
    _write_filestore(os.path.join(_volume(core, record["namespace"]), "filestore", record["database"]["name"]))
    return record


@pytest.fixture(scope="module")
def copy(core, ledger_db, tmp_path_factory):
    """A second tenant to restore the first one's backups into (a restore into a new tenant)."""
    return _provision(core, ledger_db, tmp_path_factory, "bjc")


def _job_of(record, command, backup_id, target, **overrides):
    values = dict(name=record["name"], namespace=record["namespace"], command=command, backup_id=backup_id,
                  database=record["database"]["name"], plan=record["plan"], odoo_version="18.0", image=IMAGE,
                  target=target)
    return jobs.BackupJob(**{**values, **overrides})


def _submit(core, batch, job):
    """Create the Job and wait until its controller made its pod (admission and quota passed)."""
    body = jobs.backup_job(job)
    batch.create_namespaced_job(job.namespace, body)
    wait_for(lambda: core.list_namespaced_pod(job.namespace, label_selector=f"job-name={job.job_name}").items, 30,
             f"the pod of Job {job.job_name}")
    return body


def _emptied(core, record):
    """The tenant's database dropped and created again empty, owned by its role, and its filestore
    directory gone: what a restore into a new tenant starts from. The shared servers' pg_hba
    (sameuser) lets a tenant's role into the database named like itself only, so a restore
    fills the tenant's own database, never one beside it."""
    database = record["database"]["name"]
    role = _credentials(core, record["namespace"])["user"]
    with tenants.connect(SHARED_1) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
        admin.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    shutil.rmtree(_filestore_of(core, record), ignore_errors=True)
    return database


def _backup(core, batch, record, prefix, extra=None, **overrides):
    backup_id = backup_set.new_backup_id("manual")
    job = _job_of(record, "backup", backup_id, _target_settings(prefix), **overrides)
    _submit(core, batch, job)
    return job, run_job(core, batch, job.namespace, job.job_name, extra)


def _restore(core, batch, into, source, prefix, backup_id, extra=None):
    """Restore `source`'s backup into the tenant `into` with a Job in `into`'s namespace."""
    job = _job_of(into, "restore", backup_id, _target_settings(prefix), run_id=uuid.uuid4().hex[:8],
                  source_tenant=source["name"])
    batch.create_namespaced_job(job.namespace, jobs.backup_job(job))
    return run_job(core, batch, job.namespace, job.job_name, extra)


def _filestore_of(core, record):
    return os.path.join(_volume(core, record["namespace"]), "filestore", record["database"]["name"])


def _same_data(core, source, copy):
    with _as_tenant(core, source["namespace"]) as original, _as_tenant(core, copy["namespace"]) as restored:
        assert _fingerprint(restored) == _fingerprint(original)
        owners = {row[0] for row in restored.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {_credentials(core, copy["namespace"])["user"]}
    files = _files(_filestore_of(core, copy))
    assert files == _files(_filestore_of(core, source)) and len(files) == 3


def test_a_backup_restores_to_the_same_data_in_a_new_tenant(core, batch, tenant, copy, prefix):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    assert run.result["changed"] is True
    listing = backup_set.list_backups(_store(prefix), tenant["name"])
    assert [m.backup_id for m in listing.complete] == [job.backup_id] and not listing.incomplete
    manifest = listing.complete[0]
    assert manifest.modules == ("base", "sale", "web")
    assert manifest.kind == "manual" and manifest.encrypted_to is None and manifest.plan == "small"
    # The environment the Job's container got: secrets by reference only, never in the Job.
    body = batch.read_namespaced_job(job.job_name, job.namespace).to_dict()
    for variable in body["spec"]["template"]["spec"]["containers"][0]["env"]:
        if variable["name"] in job_contract.SECRET_VARIABLES:
            assert variable["value"] is None and variable["value_from"]["secret_key_ref"]
    assert "PGPASSWORD" in run.environment

    again = run_job(core, batch, job.namespace, job.job_name)
    assert again.returncode == 0 and again.result["changed"] is False, again.output

    _emptied(core, copy)
    restored = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert restored.returncode == 0, restored.output
    _same_data(core, tenant, copy)
    rerun = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert rerun.returncode == 0 and rerun.result["changed"] is False, rerun.output


def test_a_restore_refuses_a_database_that_holds_data(core, batch, tenant, copy, prefix):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    _emptied(core, copy)
    with _as_tenant(core, copy["namespace"]) as conn:
        conn.execute("CREATE TABLE res_users (id serial PRIMARY KEY, login varchar)")
        conn.execute("INSERT INTO res_users (login) VALUES ('someone')")
    refused = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert refused.returncode == 1
    assert "is not empty" in refused.result["msg"] and "nothing was restored" in refused.result["msg"]
    with _as_tenant(core, copy["namespace"]) as conn:
        assert conn.execute("SELECT login FROM res_users").fetchall() == [("someone",)]


def test_encrypted_parts_hold_nothing_readable_and_need_the_identity(core, batch, tenant, copy, prefix):
    identity = encryption.new_identity()
    job, run = _backup(core, batch, tenant, prefix, encrypt_to=encryption.public_of(identity))
    assert run.returncode == 0, run.output
    store = _store(prefix)
    manifest = backup_set.read_manifest(store, tenant["name"], job.backup_id)
    assert manifest.encrypted_to == encryption.public_of(identity)
    for part in manifest.parts.values():
        assert part.key.endswith(".age")
        raw = store.get_bytes(part.key)
        assert raw.startswith(b"age-encryption.org/v1") and MARKER.encode() not in raw and b"res_partner" not in raw

    _emptied(core, copy)
    without = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert without.returncode == 1 and "is encrypted" in without.result["msg"]
    wrong = _restore(core, batch, copy, tenant, prefix, job.backup_id,
                     extra={job_contract.IDENTITY: encryption.new_identity()})
    assert wrong.returncode == 1 and "another key" in wrong.result["msg"], wrong.output

    core.patch_namespaced_secret(job_contract.TARGET_SECRET, copy["namespace"], {"stringData": {"identity": identity}})
    try:
        restored = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    finally:
        core.patch_namespaced_secret(job_contract.TARGET_SECRET, copy["namespace"], {"data": {"identity": None}})
    assert restored.returncode == 0, restored.output
    assert identity not in restored.output and identity not in wrong.output
    _same_data(core, tenant, copy)


def test_a_changed_byte_in_the_store_is_refused_before_anything_is_restored(core, batch, tenant, copy, prefix):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    store = _store(prefix)
    key = backup_set.part_key(tenant["name"], job.backup_id, "filestore", False)
    data = bytearray(store.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    store.put_bytes(key, bytes(data))
    _emptied(core, copy)
    refused = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert refused.returncode == 1 and "does not match its manifest" in refused.result["msg"], refused.output
    with _as_tenant(core, copy["namespace"]) as conn:
        assert _fingerprint(conn) == {"extensions": ("plpgsql",)}
    assert not os.path.exists(_filestore_of(core, copy))


BACKUP_POINTS = ("backup:dump-written", "backup-job:dumped", "backup-job:archived", "backup-job:uploaded-database",
                 "backup-job:uploaded-filestore")


@pytest.mark.parametrize("point", BACKUP_POINTS)
def test_a_backup_killed_at_each_step_is_invisible_and_finished_by_the_rerun(core, batch, tenant, prefix, point):
    job, killed = _backup(core, batch, tenant, prefix, extra={VARIABLE: point})
    assert killed.returncode == -9, killed.output
    listing = backup_set.list_backups(_store(prefix), tenant["name"])
    assert job.backup_id not in [m.backup_id for m in listing.complete]
    rerun = run_job(core, batch, job.namespace, job.job_name)
    assert rerun.returncode == 0 and rerun.result["changed"] is True, rerun.output
    manifest = backup_set.read_manifest(_store(prefix), tenant["name"], job.backup_id)
    assert set(manifest.parts) == {"database", "filestore"}


RESTORE_POINTS = ("restore-job:fetched", "restore:filestore-staged", "restore:marked", "restore:database-restored")


@pytest.mark.parametrize("point", RESTORE_POINTS)
def test_a_restore_killed_at_each_step_is_finished_by_the_rerun(core, batch, tenant, copy, prefix, point):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    _emptied(core, copy)
    killed = _restore(core, batch, copy, tenant, prefix, job.backup_id, extra={VARIABLE: point})
    assert killed.returncode == -9, killed.output
    assert not os.path.isdir(_filestore_of(core, copy)), "files appeared before the database was restored"
    rerun = _restore(core, batch, copy, tenant, prefix, job.backup_id)
    assert rerun.returncode == 0 and rerun.result["changed"] is True, rerun.output
    _same_data(core, tenant, copy)


def test_the_store_going_away_mid_upload_leaves_no_visible_backup(core, batch, tenant, prefix):
    proxy = TcpProxy(int(object_store.endpoint().rsplit(":", 1)[1]))
    backup_id = backup_set.new_backup_id("manual")
    job = _job_of(tenant, "backup", backup_id, _target_settings(prefix, endpoint=f"http://127.0.0.1:{proxy.port}"))
    _submit(core, batch, job)
    proxy.cut_after(1024 * 1024)  # inside the first part's upload
    try:
        cut = run_job(core, batch, job.namespace, job.job_name)
    finally:
        proxy.cut()
    assert proxy.cuts >= 1
    assert cut.returncode == 1, cut.output
    assert "failed" in cut.result["msg"] and "run again" in cut.result["msg"]
    assert object_store.secret_key() not in cut.output
    listing = backup_set.list_backups(_store(prefix), tenant["name"])
    assert backup_id not in [m.backup_id for m in listing.complete]


def test_the_job_is_admitted_by_the_tenant_namespace_and_reaches_only_its_database_and_store(core, batch, tenant):
    job = _job_of(tenant, "backup", backup_set.new_backup_id("manual"), _target_settings("unused"))
    body = _submit(core, batch, job)
    pod = body["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 100 and pod["automountServiceAccountToken"] is False
    assert all(m["readOnly"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == "filestore")
    networking = client.NetworkingV1Api(core.api_client)
    egress, database = jobs.network_policies(job, tenant["namespace"], 5432, dedicated=True)
    for policy in (egress, database):
        policy["metadata"]["name"] += "-admission-test"
        networking.create_namespaced_network_policy(job.namespace, policy)
    created = networking.read_namespaced_network_policy(egress["metadata"]["name"], job.namespace)
    assert created.spec.pod_selector.match_labels == {"app.kubernetes.io/name": jobs.BACKUP_PROGRAM}
    assert [port.port for rule in created.spec.egress for port in rule.ports] == [5432, 443]


def _odoo_export(core, record, path, version="18.0", extra_members=(), without=(), dump_suffix=b""):
    """An export as Odoo's database manager writes it: dump.sql from pg_dump --no-owner (plain
    SQL), filestore/ holding the files of filestore/<db>, manifest.json."""
    dump = subprocess.run([find_tool("pg_dump"), "--no-owner", "--format=plain", "--host=127.0.0.1",
                           f"--port={SHARED_1.port}", "--username=postgres", f"--dbname={record['database']['name']}"],
                          capture_output=True, check=True, env=dict(os.environ, PGPASSWORD=SHARED_1.password())).stdout
    manifest = {"odoo_dump": "1", "db_name": record["database"]["name"], "version": version,
                "version_info": [int(version.split(".")[0]), 0, 0, "final", 0, ""], "major_version": version,
                "pg_version": "15.0", "modules": {"base": f"{version}.1.3", "sale": f"{version}.1.2"}}
    source = _filestore_of(core, record)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as export:
        if "dump.sql" not in without:
            export.writestr("dump.sql", dump + dump_suffix)
        export.writestr("manifest.json", json.dumps(manifest))
        for root, _dirs, names in os.walk(source):
            for name in names:
                full = os.path.join(root, name)
                export.write(full, "filestore/" + os.path.relpath(full, source))
        for name, data in extra_members:
            export.writestr(name, data)


def _import(core, batch, into, prefix, export_path):
    key = f"imports/{uuid.uuid4().hex[:8]}.zip"
    _store(prefix).put_file(key, str(export_path))
    job = _job_of(into, "import", "", _target_settings(prefix), run_id=f"import-{uuid.uuid4().hex[:8]}", import_key=key)
    batch.create_namespaced_job(job.namespace, jobs.backup_job(job))
    return run_job(core, batch, job.namespace, job.job_name)


def test_an_odoo_export_zip_is_imported_as_the_new_tenant_with_its_filestore(core, batch, tenant, copy, prefix, tmp_path):
    _odoo_export(core, tenant, tmp_path / "export.zip")
    _emptied(core, copy)
    imported = _import(core, batch, copy, prefix, tmp_path / "export.zip")
    assert imported.returncode == 0, imported.output
    assert imported.result["changed"] is True and imported.result["files"] == 3
    _same_data(core, tenant, copy)


@pytest.mark.parametrize("case, expected", [
    ("odoo 17", "is an Odoo 17.0 database and the tenant runs Odoo 18.0"),
    ("no dump", "is not an Odoo database export: it has no dump.sql"),
    ("escape", "is outside filestore/"),
])
def test_an_export_that_is_not_one_or_of_another_version_is_refused_untouched(
        core, batch, tenant, copy, prefix, tmp_path, case, expected):
    _odoo_export(core, tenant, tmp_path / "export.zip", version="17.0" if case == "odoo 17" else "18.0",
                 without=("dump.sql",) if case == "no dump" else (),
                 extra_members=(("filestore/../../escaped", b"x"),) if case == "escape" else ())
    _emptied(core, copy)
    refused = _import(core, batch, copy, prefix, tmp_path / "export.zip")
    assert refused.returncode == 1 and expected in refused.result["msg"], refused.output
    with _as_tenant(core, copy["namespace"]) as conn:
        assert _fingerprint(conn) == {"extensions": ("plpgsql",)}
    assert not os.path.exists(_filestore_of(core, copy))
    assert not os.path.exists(os.path.join(_volume(core, copy["namespace"]), "escaped"))


# --- replacing what a tenant holds (tenant_restore: ODOO_SAAS_REPLACE_RUN) ---------------------

def _replace(core, batch, into, source, prefix, backup_id="", run_id=None, extra=None, import_key=""):
    """The Job tenant_restore creates: restore (or import) into `into`, replacing what it holds."""
    job = _job_of(into, "import" if import_key else "restore", backup_id, _target_settings(prefix),
                  run_id=run_id or uuid.uuid4().hex[:8], replace=True, import_key=import_key,
                  source_tenant=source["name"] if source and source["name"] != into["name"] else "")
    try:
        batch.create_namespaced_job(job.namespace, jobs.backup_job(job))
    except client.ApiException as error:
        if error.status != 409:  # the same run again
            raise
    return job, run_job(core, batch, job.namespace, job.job_name, extra)


def _other_data(core, record):
    """Data that is not the backup's: a table of its own, a changed row, a file of its own."""
    with _as_tenant(core, record["namespace"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS res_users (id serial PRIMARY KEY, login varchar)")
        conn.execute("INSERT INTO res_users (login) VALUES ('someone')")
        if conn.execute("SELECT to_regclass('res_partner')").fetchone()[0]:
            conn.execute("UPDATE res_partner SET comment = 'changed since' WHERE name = 'Owner'")
        fingerprint = _fingerprint(conn)
    directory = _filestore_of(core, record)
    os.makedirs(os.path.join(directory, "zz"), exist_ok=True)
    with open(os.path.join(directory, "zz", "written-after-the-backup"), "wb") as handle:
        handle.write(b"not in the backup")
    return fingerprint, _files(directory)


def _no_leftovers(core, record):
    directory = _filestore_of(core, record)
    assert not os.path.exists(directory + ".restoring") and not os.path.exists(directory + ".replaced")


def test_a_restore_into_the_same_tenant_replaces_exactly_what_it_holds(core, batch, tenant, prefix):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    with _as_tenant(core, tenant["namespace"]) as conn:
        backed_up = _fingerprint(conn)
    files = _files(_filestore_of(core, tenant))
    changed, _files_now = _other_data(core, tenant)
    assert changed != backed_up
    replace_job, replaced = _replace(core, batch, tenant, tenant, prefix, job.backup_id)
    assert replaced.returncode == 0 and replaced.result["changed"] is True, replaced.output
    with _as_tenant(core, tenant["namespace"]) as conn:
        assert _fingerprint(conn) == backed_up
        owners = {row[0] for row in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {_credentials(core, tenant["namespace"])["user"]}
    assert _files(_filestore_of(core, tenant)) == files
    _no_leftovers(core, tenant)
    again = run_job(core, batch, replace_job.namespace, replace_job.job_name)
    assert again.returncode == 0 and again.result["changed"] is False, again.output


def test_a_restore_into_a_tenant_that_holds_data_replaces_it_with_the_backup(core, batch, tenant, copy, prefix):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    _other_data(core, copy)
    _job, replaced = _replace(core, batch, copy, tenant, prefix, job.backup_id)
    assert replaced.returncode == 0, replaced.output
    _same_data(core, tenant, copy)
    _no_leftovers(core, copy)


REPLACE_POINTS = ("restore-job:fetched", "restore:filestore-staged", "restore:replacing", "restore:database-replaced",
                  "restore:filestore-aside")


@pytest.mark.parametrize("point", REPLACE_POINTS)
def test_a_replacement_killed_at_each_step_keeps_the_old_data_or_is_finished_by_the_rerun(
        core, batch, tenant, copy, prefix, point):
    job, run = _backup(core, batch, tenant, prefix)
    assert run.returncode == 0, run.output
    before, before_files = _other_data(core, copy)
    run_id = uuid.uuid4().hex[:8]
    _job, killed = _replace(core, batch, copy, tenant, prefix, job.backup_id, run_id=run_id, extra={VARIABLE: point})
    assert killed.returncode == -9, killed.output
    committed = REPLACE_POINTS.index(point) >= REPLACE_POINTS.index("restore:database-replaced")
    with _as_tenant(core, copy["namespace"]) as conn, _as_tenant(core, tenant["namespace"]) as original:
        assert _fingerprint(conn) == (_fingerprint(original) if committed else before)
    if not committed:
        assert _files(_filestore_of(core, copy)) == before_files, "the files changed before the database did"
    _job, rerun = _replace(core, batch, copy, tenant, prefix, job.backup_id, run_id=run_id)
    assert rerun.returncode == 0, rerun.output
    _same_data(core, tenant, copy)
    _no_leftovers(core, copy)


def test_a_replacement_that_fails_leaves_the_data_as_it_was(core, batch, tenant, copy, prefix, tmp_path):
    _other_data(core, copy)
    with _as_tenant(core, copy["namespace"]) as conn:
        before = _fingerprint(conn)
    files = _files(_filestore_of(core, copy))
    _odoo_export(core, tenant, tmp_path / "broken.zip", dump_suffix=b"\nSELECT no_such_function_in_odoo();\n")
    key = f"imports/{uuid.uuid4().hex[:8]}.zip"
    _store(prefix).put_file(key, str(tmp_path / "broken.zip"))
    _job, failed = _replace(core, batch, copy, None, prefix, import_key=key, run_id=f"import-{uuid.uuid4().hex[:8]}")
    assert failed.returncode == 1, failed.output
    assert failed.result["database_replaced"] is False and "as it was" in failed.result["msg"], failed.result
    assert "no_such_function_in_odoo" in failed.result["msg"]
    with _as_tenant(core, copy["namespace"]) as conn:
        assert _fingerprint(conn) == before
    assert _files(_filestore_of(core, copy)) == files
