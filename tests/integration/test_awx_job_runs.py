"""The job templates run as AWX runs them (issue 15): ansible-runner in a private data directory
laid out as AWX lays it, the collection installed from its built tarball, the inventory synced
from the project, the survey's answers and the credentials' injections as extra variables, the
automation's ServiceAccount token instead of the admin certificate, as a user other than root
that cannot see the local platform's state directory (tests/integration/awx_job.py).

A tenant goes through every tenant template against the local platform: provision, info,
suspend, resume, reconcile (the fleet committed to the inventory) and decommission, whose final
backup is taken in the cluster. Another goes through the backup templates: back up, list and
verify, restore, decommission, purge, undelete, and an Odoo export is imported as a new tenant;
the backup and restore Jobs run for real (the kubelet stand-in of `make up`). No job's output or
events hold a secret."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from kubernetes import client

from tests.cluster import control_plane, object_store

from . import automation_rbac, tenants
from .awx_job import ExecutionEnvironment, Hidden, _project_files

pytestmark = pytest.mark.alone  # see tests/conftest.py

PLATFORM_NAMESPACE = "saas-dev"  # the local inventory's
PREFIX = "Odoo SaaS - "


@pytest.fixture(scope="module")
def ee():
    environment = ExecutionEnvironment.create()
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def automation(api):
    with automation_rbac.installed(api, PLATFORM_NAMESPACE) as params:
        yield params


@pytest.fixture(scope="module")
def passwords():
    """What the administrator pastes into the "Odoo SaaS platform passwords" credential."""
    state = control_plane.layout().root / "postgres"
    found = {name: (state / f"{file}.password").read_text().strip()
             for name, file in (("ledger", "saas-system"), ("postgres-shared-1", "postgres-shared-1"),
                                ("postgres-shared-2", "postgres-shared-2"))}
    found["object-store"] = object_store.secret_key()
    return found


@pytest.fixture(scope="module")
def credentials(passwords, automation):
    return Hidden([("Odoo SaaS platform passwords", {"passwords": json.dumps(passwords)}),
                   ("Odoo SaaS automation kubeconfig", {"kubeconfig": yaml.safe_dump(automation_rbac.kubeconfig(automation, inline_ca=True))})])


@pytest.fixture(scope="module")
def secrets(passwords, automation):
    return Hidden([*passwords.values(), automation["api_key"]])


def _successful(run):
    assert run.rc == 0 and run.status == "successful", run.stdout[-5000:]
    return run


def _no_secret_in(run, secrets):
    for path, text in run.texts():
        leaked = [s for s in secrets if s and s in text]
        assert not leaked, f"a secret appears in {path.relative_to(run.artifacts)}"


def test_the_built_collection_holds_every_file_the_repository_ships(ee):
    installed = ee.installed_root()
    shipped = [name for name in _project_files() if name.split("/")[0] in ("plugins", "roles", "playbooks", "meta")]
    missing = [name for name in shipped if not (installed / name).is_file()]
    assert shipped and not missing, f"left out of the built collection: {missing}"
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("odoo_saas", "kit")
    assert not (installed / ".local").exists() and not (installed / "tests" / "cluster" / "build").exists()


def test_a_tenant_goes_through_every_tenant_template(ee, credentials, secrets, core, api):
    name, other = tenants.unique("awx"), tenants.unique("awxf")
    namespace = f"tenant-{name}"
    apps = client.AppsV1Api(api)

    def job(template, answers=None, **kwargs):
        run = _successful(ee.job(PREFIX + template, answers, credentials, **kwargs))
        return run

    provisioned = job("provision tenant", {"tenant_name": name, "tenant_plan": "small"})
    results = provisioned.results_of("Provision the tenant")
    assert results and results[0]["changed"] and results[0]["steps"], \
        f"the module's progress is not in the job's events: {provisioned.stdout[-3000:]}"
    assert core.read_namespace(namespace).metadata.name == namespace
    tenant_secrets = [base64.b64decode(core.read_namespaced_secret("odoo-db", namespace).data["password"]).decode()]
    tenant_secrets += tenants.secrets_of(core, namespace)
    everything = Hidden(secrets + tenant_secrets)
    _no_secret_in(provisioned, everything)

    info = job("tenant info", {"tenant_name": name})
    assert "odoo_ready: true" in info.stdout and "database_reachable: true" in info.stdout
    _no_secret_in(info, everything)

    suspended = job("suspend tenant", {"tenant_name": name})
    assert all((d.spec.replicas or 0) == 0 for d in apps.list_namespaced_deployment(namespace).items)
    resumed = job("resume tenant", {"tenant_name": name})
    assert any((d.spec.replicas or 0) > 0 for d in apps.list_namespaced_deployment(namespace).items)

    fleet = {"odoo_saas_tenants": [{"name": name, "plan": "small"}, {"name": other, "plan": "small"}]}
    reconciled = job("reconcile tenants", inventory_files={
        "inventories/local/group_vars/all/tenants.yml": yaml.safe_dump(fleet)})
    assert core.read_namespace(f"tenant-{other}").metadata.name == f"tenant-{other}"
    summary = reconciled.results_of("Converge every tenant")[0]["summary"]
    assert summary, reconciled.stdout[-3000:]
    fleet["odoo_saas_tenants"][1].update(state="absent", confirm=other)
    job("reconcile tenants", inventory_files={"inventories/local/group_vars/all/tenants.yml": yaml.safe_dump(fleet)})

    removed = job("decommission tenant", {"tenant_name": name, "tenant_confirm": name})
    assert "state: deleted" in removed.stdout
    for run in (suspended, resumed, reconciled, removed):
        _no_secret_in(run, everything)
    for gone_name in (name, other):
        assert core.list_namespace(field_selector=f"metadata.name=tenant-{gone_name}").items == []


def test_a_job_without_the_credentials_cannot_read_the_platforms_state(ee):
    """The state directory is out of the job's reach: without the passwords credential, the
    local inventory's fallback reads the files of the local platform's state, and even pointed
    there (ODOO_SAAS_STATE) the job finds the directory empty."""
    state = control_plane.layout().root
    run = ee.job(PREFIX + "tenant info", {"tenant_name": "nobody-here"}, envvars={"ODOO_SAAS_STATE": str(state)})
    assert run.rc != 0 and run.status == "failed"
    assert f"Unable to access the file '{state}/" in run.stdout, run.stdout[-3000:]
    assert (state / "object-store" / "secret-key").is_file(), "the file is there, outside the job's namespace"


def _server(record):
    """The shared server tenant_info reports the tenant's database on."""
    return {s.name: s for s in (tenants.SHARED_1, tenants.SHARED_2)}[record["database"]["server"]]


def _partners(record, database):
    with tenants.connect(_server(record), database) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM res_partner ORDER BY id")]


def test_the_backup_templates_take_verify_restore_undelete_and_import(ee, credentials, secrets, core):
    name, imported = tenants.unique("awxb"), tenants.unique("awxi")
    database = f"odoo_{name.replace('-', '_')}"
    runs = []

    def job(template, answers=None):
        runs.append(_successful(ee.job(PREFIX + template, answers, credentials)))
        return runs[-1]

    def info(tenant):
        return job("tenant info", {"tenant_name": tenant}).results_of("Read the tenants")[0]["tenants"][0]

    job("provision tenant", {"tenant_name": name, "tenant_plan": "small"})
    record = info(name)
    server = _server(record)
    with tenants.connect(server, database) as conn:
        conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar)")
        conn.execute(f'ALTER TABLE res_partner OWNER TO "{database}"')
        conn.execute("INSERT INTO res_partner (name) SELECT 'customer ' || i FROM generate_series(1, 42) i")
    customers = _partners(record, database)

    backup = job("back up tenant", {"tenant_name": name}).results_of("Take the backup")[0]["backup"]
    assert backup["state"] == "complete" and backup["kind"] == "manual", backup
    listed = job("tenant backups", {"tenant_name": name, "backup_id": backup["id"]}).results_of("List, and verify one")[0]
    assert backup["id"] in [b["id"] for b in listed["backups"]] and listed["verified"]["checksums"] == "match", listed

    with tenants.connect(server, database) as conn:
        conn.execute("DELETE FROM res_partner WHERE id > 10")
    restored = job("restore tenant", {"tenant_name": name, "backup_id": backup["id"]}).results_of("Restore")[0]["restore"]
    assert restored["source"]["backup"] == backup["id"] and "-pre-restore-" in restored["safety_backup"], restored
    assert _partners(record, database) == customers, "the restore did not bring the 42 customers back"

    job("decommission tenant", {"tenant_name": name, "tenant_confirm": name})
    purged = job("purge expired backups").results_of("Purge")[0]["purged"]
    assert name not in [p["tenant"] for p in purged], "a final backup inside its grace period was purged"
    job("undelete tenant", {"tenant_name": name})
    record = info(name)
    assert record["state"] == "active" and _partners(record, database) == customers

    tenants.upload_odoo_export(f"imports/{imported}.zip")
    job("import tenant", {"tenant_name": imported, "tenant_plan": "small", "odoo_export": f"imports/{imported}.zip"})
    assert _partners(info(imported), f"odoo_{imported.replace('-', '_')}") == ["imported 1", "imported 2"]

    everything = Hidden(secrets + [value for tenant in (name, imported) for value in tenants.secrets_of(core, f"tenant-{tenant}")])
    for run in runs:
        _no_secret_in(run, everything)
    for tenant in (name, imported):
        job("decommission tenant", {"tenant_name": tenant, "tenant_confirm": tenant})
        assert core.list_namespace(field_selector=f"metadata.name=tenant-{tenant}").items == []
