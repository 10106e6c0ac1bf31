"""odoo_saas.kit.tenant's core against the real API server and PostgreSQL servers:
provision, idempotence, check mode, suspend/resume, decommission with backup, bad input."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup, ledger
from tests.cluster import traefik

from . import tenants
from .conftest import gone, wait_for


@pytest.fixture
def params(ledger_db, tmp_path):
    def build(name, **overrides):
        backup_dir = overrides.pop("backup_dir", tmp_path / "backups")
        return tenants.params(ledger_db, backup_dir, name=name, **overrides)
    return build


def _resource_versions(api, namespace):
    """Generation of each object where the kind has one (controllers keep writing status), else
    its resourceVersion; claims and quotas, whose status controllers own, are left out, and so are
    the TLS Secrets cert-manager writes when it issues a host's certificate (whenever it gets to it)."""
    versions = {}
    core, apps, net = client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api)
    for kind, items in [
        ("Secret", core.list_namespaced_secret(namespace).items),
        ("Service", core.list_namespaced_service(namespace).items),
        ("Deployment", apps.list_namespaced_deployment(namespace).items),
        ("Ingress", net.list_namespaced_ingress(namespace).items),
        ("NetworkPolicy", net.list_namespaced_network_policy(namespace).items),
    ]:
        for item in items:
            if "cert-manager.io/certificate-name" in (item.metadata.annotations or {}):
                continue
            versions[(kind, item.metadata.name)] = item.metadata.generation or item.metadata.resource_version
    return versions


def _role(server, role):
    with tenants.connect(server) as conn:
        return conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (role,)).fetchone()


def _namespace_gone(core, namespace):
    return gone(core.read_namespace, namespace)


def test_provision_is_isolated_idempotent_and_routed(api, core, params):
    name = tenants.unique()
    result, failure = tenants.tenant(params(name, plan="small", domains=["erp.example.test"]))
    assert failure is None, failure
    assert result["changed"]
    record = result["tenant"]
    assert record["state"] == "active" and record["namespace"] == f"tenant-{name}"
    assert record["database"]["strategy"] == "shared" and record["database"]["server"].startswith("postgres-shared-")
    assert record["urls"] == [f"https://{name}.127.0.0.1.nip.io/", "https://erp.example.test/"]

    namespace = core.read_namespace(record["namespace"])
    assert namespace.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    server = tenants.SHARED_1 if record["database"]["server"] == "postgres-shared-1" else tenants.SHARED_2
    database = record["database"]["name"]
    assert _role(server, database) == (False, False, False, 20)
    with tenants.connect(server) as conn:
        owner, public_connect = conn.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege('public', datname, 'CONNECT') "
            "FROM pg_database WHERE datname = %s", (database,)).fetchone()
    assert owner == database and public_connect is False

    leaked = [secret for secret in tenants.secrets_of(core, record["namespace"]) if secret in json.dumps(result)]
    assert leaked == [], "a secret value appears in the module result"

    versions = _resource_versions(api, record["namespace"])
    again, failure = tenants.tenant(params(name, plan="small", domains=["erp.example.test"]))
    assert failure is None
    assert again["changed"] is False and again["actions"] == [] and again["diff"] == []
    assert set(again["api_requests"]) == {"get"}, f"a no-op run sent writes: {again['api_requests']}"
    assert _resource_versions(api, record["namespace"]) == versions, "a no-op run must write nothing"

    routers = wait_for(lambda: [r for r in traefik.routers() if "erp.example.test" in r.get("rule", "")], 60,
                       "Traefik's router for the tenant's extra domain")
    assert routers[0]["status"] == "enabled"


def test_check_mode_reports_and_changes_nothing(core, params, ledger_db):
    name = tenants.unique()
    result, failure = tenants.tenant(params(name, plan="medium"), check_mode=True)
    assert failure is None, failure
    assert result["changed"] and any(a.startswith("created Namespace") for a in result["actions"])
    assert any("CREATE ROLE" in a and "(check mode)" in a for a in result["actions"])
    assert _namespace_gone(core, f"tenant-{name}")
    assert _role(tenants.SHARED_1, f"odoo_{name.replace('-', '_')}") is None
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, name) is None


def test_diff_mode_redacts_secrets(core, params):
    name = tenants.unique()
    result, failure = tenants.tenant(params(name, plan="small"))
    assert failure is None
    secret_diffs = [d for d in result["diff"] if d["after_header"].startswith("Secret ")]
    assert secret_diffs and all(set(d["after"]["data"].values()) == {"********"} for d in secret_diffs)
    for value in tenants.secrets_of(core, f"tenant-{name}"):
        assert value not in json.dumps(result)


def test_suspend_keeps_data_and_resume_brings_it_back(api, core, params):
    name = tenants.unique()
    assert tenants.tenant(params(name, plan="small"))[1] is None
    apps = client.AppsV1Api(api)
    namespace = f"tenant-{name}"
    suspended, failure = tenants.tenant(params(name, state="suspended"))
    assert failure is None and suspended["tenant"]["state"] == "suspended"
    assert apps.read_namespaced_deployment("odoo-web", namespace).spec.replicas == 0
    wait_for(lambda: not [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running"], 60,
             "the tenant's pods to stop")
    assert core.read_namespaced_persistent_volume_claim("odoo-filestore", namespace)
    assert _role(tenants.SHARED_1, f"odoo_{name.replace('-', '_')}") or _role(tenants.SHARED_2, f"odoo_{name.replace('-', '_')}")
    assert tenants.tenant(params(name, state="suspended"))[0]["changed"] is False

    resumed, failure = tenants.tenant(params(name, state="present"))
    assert failure is None and resumed["tenant"]["state"] == "active" and resumed["tenant"]["plan"] == "small"
    assert apps.read_namespaced_deployment("odoo-web", namespace).status.ready_replicas == 1


def test_decommission_backs_up_then_removes_everything(core, params, ledger_db, tmp_path):
    name = tenants.unique()
    result = tenants.tenant(params(name, plan="small"))[0]
    database = result["tenant"]["database"]["name"]
    server = tenants.SHARED_1 if result["tenant"]["database"]["server"] == "postgres-shared-1" else tenants.SHARED_2
    password = tenants.secrets_of(core, f"tenant-{name}")
    with tenants.connect(server) as admin:  # data written as the tenant, so the dump has content to check
        admin.execute(f'SET ROLE "{database}"')
    with tenants.connect(server, database) as conn:
        conn.execute(f'SET ROLE "{database}"')
        conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO res_partner (name) VALUES ('Acme'), ('Globex')")
    assert password

    refused, failure = tenants.tenant(params(name, state="absent", confirm="wrong"))
    assert failure.startswith("confirm:") and not refused["changed"]
    protected, failure = tenants.tenant(params(name, state="absent", confirm=name, deletion_protection=True))
    assert "deletion protection" in failure and not protected["changed"]
    assert not _namespace_gone(core, f"tenant-{name}")

    removed, failure = tenants.tenant(params(name, state="absent", confirm=name))
    assert failure is None, failure
    record = removed["tenant"]
    assert record["state"] == "deleted" and record["urls"] == []
    dump = record["backup"]["location"]
    assert os.path.exists(dump) and backup.verify_backup(dump) > 0
    assert subprocess.run(["sha256sum", dump], capture_output=True, text=True, check=True).stdout.split()[0] == record["backup"]["sha256"]
    assert _namespace_gone(core, f"tenant-{name}")
    assert _role(server, database) is None
    with tenants.connect(server) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None

    restored = f"restore_{name.replace('-', '_')}"
    with tenants.connect(server) as conn:
        conn.execute(f'CREATE DATABASE "{restored}"')
    try:
        subprocess.run([backup.find_tool("pg_restore"), "--no-owner", "-h", "127.0.0.1", "-p", str(server.port),
                        "-U", "postgres", "-d", restored, dump], env=dict(os.environ, PGPASSWORD=server.password()),
                       check=True, capture_output=True)
        with tenants.connect(server, restored) as conn:
            assert conn.execute("SELECT name FROM res_partner ORDER BY id").fetchall() == [("Acme",), ("Globex",)]
    finally:
        with tenants.connect(server) as conn:
            conn.execute(f'DROP DATABASE "{restored}"')

    again, failure = tenants.tenant(params(name, state="absent", confirm=name))
    assert failure is None and again["changed"] is False


def test_a_failed_backup_drops_nothing(core, params, tmp_path):
    name = tenants.unique()
    tenants.tenant(params(name, plan="small"))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the backup directory should be")
    result, failure = tenants.tenant(params(name, state="absent", confirm=name, backup_dir=str(blocker)))
    assert failure is not None and "backup" in failure.lower()
    assert not _namespace_gone(core, f"tenant-{name}")
    assert _role(tenants.SHARED_1, f"odoo_{name.replace('-', '_')}") or _role(tenants.SHARED_2, f"odoo_{name.replace('-', '_')}")
    done, failure = tenants.tenant(params(name, state="absent", confirm=name))
    assert failure is None and done["tenant"]["state"] == "deleted"


def test_dedicated_plan_gets_its_own_postgresql(api, params):
    name = tenants.unique()
    result, failure = tenants.tenant(params(name, plan="large"))
    assert failure is None, failure
    assert result["tenant"]["database"] == {"strategy": "dedicated", "server": "dedicated", "name": f"odoo_{name.replace('-', '_')}",
                                            "connection_limit": 100}
    statefulset = client.AppsV1Api(api).read_namespaced_stateful_set("postgres", f"tenant-{name}")
    assert statefulset.status.ready_replicas == 1
    assert _role(tenants.SHARED_1, f"odoo_{name.replace('-', '_')}") is None
    assert _role(tenants.SHARED_2, f"odoo_{name.replace('-', '_')}") is None

    # This version cannot back a dedicated database up: the removal refuses before it changes
    # anything, the customer's Odoo and database still running.
    refused, failure = tenants.tenant(params(name, state="absent", confirm=name))
    assert failure is not None and "dedicated PostgreSQL" in failure and "nothing was changed" in failure
    assert refused["changed"] is False and refused["actions"] == [], refused["actions"]
    assert refused["tenant"]["state"] == "active"
    apps = client.AppsV1Api(api)
    assert apps.read_namespaced_stateful_set("postgres", f"tenant-{name}").spec.replicas == 1
    assert apps.read_namespaced_deployment("odoo-web", f"tenant-{name}").spec.replicas >= 1


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "Bad_Name", "plan": "small"}, "name"),
    ({"name": "kube-system", "plan": "small"}, "name"),
    ({"name": "x'; drop role postgres; --", "plan": "small"}, "name"),
    ({"plan": "platinum"}, "plan"),
    ({"plan": "small", "domains": ["not a host"]}, "domains[0]"),
])
def test_bad_input_names_the_field_and_creates_nothing(core, params, ledger_db, overrides, field):
    name = overrides.pop("name", tenants.unique())
    result, failure = tenants.tenant(params(name, **overrides))
    assert failure.startswith(f"{field}:")
    assert result["changed"] is False and result["actions"] == []
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, name) is None


def test_a_domain_owned_by_another_tenant_is_refused(params):
    first, second = tenants.unique(), tenants.unique()
    assert tenants.tenant(params(first, plan="small", domains=["shop.owned.test"]))[1] is None
    result, failure = tenants.tenant(params(second, plan="small", domains=["shop.owned.test"]))
    assert "shop.owned.test (tenant " + first + ")" in failure and result["actions"] == []


@pytest.mark.parametrize(("overrides", "dependency"), [
    ({"kubeconfig": None, "host": "https://127.0.0.1:1", "validate_certs": False}, "Kubernetes API server at https://127.0.0.1:1"),
    ({"ledger": {"host": "127.0.0.1", "port": 1, "database": "x", "user": "postgres", "password": "secret-pw"}}, "PostgreSQL server ledger"),
])
def test_an_unreachable_dependency_is_named(params, overrides, dependency):
    result, failure = tenants.tenant(params(tenants.unique(), plan="small", **overrides))
    assert dependency in failure and "secret-pw" not in failure
