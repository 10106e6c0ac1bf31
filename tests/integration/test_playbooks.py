"""The playbooks that AWX/Semaphore templates run, through ansible-playbook against
inventories/local: validation first, check and diff, idempotence, no secret in the output."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from . import tenants

pytestmark = pytest.mark.alone  # see tests/conftest.py

REPO = Path(__file__).resolve().parents[2]


def playbook(name, *extra, check=True):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventories/local",
                             f"playbooks/{name}", *extra], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    if check:
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def recap_changed(output):
    return int(re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


@pytest.fixture(scope="module", autouse=True)
def platform():
    playbook("platform.yml")


def test_provision_check_diff_apply_rerun_and_decommission(core):
    name = tenants.unique("pb")
    checked = playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small", "--check", "--diff")
    assert recap_changed(checked.stdout) == 1
    assert core.list_namespace(field_selector=f"metadata.name=tenant-{name}").items == []

    applied = playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small",
                       "-e", "tenant_domains=a.pb.test, b.pb.test", "--diff")
    assert recap_changed(applied.stdout) == 1
    secrets = [base64.b64decode(core.read_namespaced_secret("odoo-db", f"tenant-{name}").data["password"]).decode()]
    secrets += tenants.secrets_of(core, f"tenant-{name}")
    for output in (checked.stdout, applied.stdout):
        assert not [s for s in secrets if s in output], "a password appears in the Ansible output"

    again = playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small",
                     "-e", "tenant_domains=a.pb.test, b.pb.test")
    assert recap_changed(again.stdout) == 0

    info = playbook("tenant_info.yml", "-e", f"tenant_name={name}")
    assert "odoo_ready: true" in info.stdout and "database_reachable: true" in info.stdout and "drift: []" in info.stdout

    refused = playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", "tenant_confirm=other", check=False)
    assert refused.returncode != 0 and "tenant_confirm equal to tenant_name" in refused.stdout
    removed = playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}")
    assert "state: deleted" in removed.stdout and recap_changed(removed.stdout) == 1


def test_a_bad_name_fails_naming_the_field():
    result = playbook("tenant_provision.yml", "-e", "tenant_name=Bad_Name", "-e", "tenant_plan=small", check=False)
    assert result.returncode != 0
    assert "name: 'Bad_Name' is not allowed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_validation_refuses_a_broken_inventory_naming_each_variable_before_any_task():
    """playbooks/validate.yml runs the modules' own validation (odoo_saas.kit.platform_check)."""
    broken = json.dumps({"odoo_saas_environment": "production", "odoo_saas_shared_server_capacity": "lots",
                         "odoo_saas_plans": {"small": {"db_strategy": "shared", "cpu": "lots"}}})
    result = playbook("tenant_provision.yml", "-e", broken, "-e", "tenant_name=acme", "-e", "tenant_plan=small",
                      check=False)
    assert result.returncode != 0
    out = result.stdout
    assert "Inventory check failed (common): 3 problem(s)" in out, out[-3000:]
    for variable in ("odoo_saas_environment", "odoo_saas_shared_server_capacity", "odoo_saas_plans.small"):
        assert variable in out
    assert "Provision the tenant" not in out and "Traceback" not in out + result.stderr


def test_drift_made_by_hand_is_reported_and_repaired(api, core):
    from kubernetes import client
    name = tenants.unique("drift")
    playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small")
    client.NetworkingV1Api(api).delete_namespaced_network_policy("default-deny", f"tenant-{name}")
    client.AppsV1Api(api).patch_namespaced_deployment("odoo-web", f"tenant-{name}", {"spec": {"replicas": 3}})
    info = playbook("tenant_info.yml", "-e", f"tenant_name={name}")
    assert f"missing: NetworkPolicy tenant-{name}/default-deny" in info.stdout
    assert f"changed: Deployment tenant-{name}/odoo-web" in info.stdout
    repaired = playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small")
    assert recap_changed(repaired.stdout) == 1
    assert "drift: []" in playbook("tenant_info.yml", "-e", f"tenant_name={name}").stdout
    playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}", "-e", "tenant_backup=false")


def test_reconcile_converges_the_listed_tenants_once(core, tmp_path):
    names = [tenants.unique("rc") for _index in range(2)]
    fleet = tmp_path / "tenants.json"

    def reconcile(entries, **kwargs):
        fleet.write_text(json.dumps({"odoo_saas_tenants": entries}))
        return playbook("tenants_reconcile.yml", "-e", f"@{fleet}", **kwargs)

    bad = reconcile([{"name": names[0], "plan": "small"}, {"name": names[1], "plan": "gold"}], check=False)
    assert bad.returncode != 0 and "tenants[1].plan" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr
    assert core.list_namespace(field_selector=f"metadata.name=tenant-{names[0]}").items == []

    entries = [{"name": name, "plan": "small"} for name in names]
    assert recap_changed(reconcile(entries).stdout) == 1
    assert recap_changed(reconcile(entries).stdout) == 0
    removed = reconcile([{"name": name, "state": "absent", "confirm": name, "backup": False} for name in names])
    assert recap_changed(removed.stdout) == 1
    for name in names:
        assert core.list_namespace(field_selector=f"metadata.name=tenant-{name}").items == []


def test_backup_playbooks_take_list_and_verify_a_backup_without_showing_a_key(core):
    name = tenants.unique("pbb")
    playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small")
    checked = playbook("tenant_backup.yml", "-e", f"tenant_name={name}", "--check")
    assert recap_changed(checked.stdout) == 1
    taken = playbook("tenant_backup.yml", "-e", f"tenant_name={name}", "-v")
    backup_id = re.search(r"\bid: (\d{8}-\d{6}-manual-[0-9a-f]{6})", taken.stdout).group(1)
    assert "state: complete" in taken.stdout and recap_changed(taken.stdout) == 1
    verified = playbook("tenant_backups.yml", "-e", f"tenant_name={name}", "-e", f"backup_id={backup_id}")
    assert "checksums: match" in verified.stdout and backup_id in verified.stdout
    restore_check = playbook("tenant_restore.yml", "-e", f"tenant_name={name}", "-e", f"backup_id={backup_id}",
                             "--check")
    assert recap_changed(restore_check.stdout) == 1
    restored = playbook("tenant_restore.yml", "-e", f"tenant_name={name}", "-e", f"backup_id={backup_id}", "-v")
    assert f"backup: {backup_id}" in restored.stdout and "-pre-restore-" in restored.stdout
    key = (REPO / ".local" / "object-store" / "secret-key").read_text().strip()
    for output in (checked.stdout, taken.stdout, verified.stdout, restore_check.stdout, restored.stdout):
        assert key not in output, "the object store's secret key appears in the Ansible output"
    playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}")


def test_a_removed_tenant_is_undeleted_from_its_final_backup_and_the_purge_keeps_it_meanwhile():
    name = tenants.unique("pbu")
    playbook("tenant_provision.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small")
    info = playbook("tenant_info.yml", "-e", f"tenant_name={name}", "-v").stdout
    servers = {s.name: s for s in (tenants.SHARED_1, tenants.SHARED_2)}
    server = servers[re.search(r"server: (postgres-shared-\d+)", info).group(1)]  # where the tenant lives first
    database = f"odoo_{name.replace('-', '_')}"
    with tenants.connect(server, database) as conn:
        conn.execute("CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar)")
        conn.execute(f'ALTER TABLE res_partner OWNER TO "{database}"')
        conn.execute("INSERT INTO res_partner (name) SELECT 'customer ' || i FROM generate_series(1, 42) i")
    refused = playbook("tenant_undelete.yml", "-e", f"tenant_name={name}", check=False)
    assert refused.returncode != 0 and "only a removed (deleted) tenant is undeleted" in refused.stdout
    playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}")
    purged = playbook("backups_purge.yml", "--check", "-v")
    assert f"{name}/" not in purged.stdout, "a final backup inside its grace period would be purged"

    undeleted = playbook("tenant_undelete.yml", "-e", f"tenant_name={name}", "-v")
    assert re.search(r"backup: \d{8}-\d{6}-final-[0-9a-f]{6}", undeleted.stdout), undeleted.stdout[-3000:]
    info = playbook("tenant_info.yml", "-e", f"tenant_name={name}", "-v").stdout
    assert "state: active" in info
    # Placed again: maybe on the other server.
    with tenants.connect(servers[re.search(r"server: (postgres-shared-\d+)", info).group(1)], database) as conn:
        assert conn.execute("SELECT count(*) FROM res_partner").fetchone()[0] == 42
    playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}", "-e",
             "tenant_backup=false")


def test_an_odoo_export_uploaded_to_the_store_is_imported_as_a_new_tenant():
    """An export as Odoo's database manager writes it (dump.sql of pg_dump --no-owner, filestore/,
    manifest.json), uploaded below the local inventory's prefix."""
    name = tenants.unique("pbi")
    tenants.upload_odoo_export(f"imports/{name}.zip")

    imported = playbook("tenant_import.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small", "-e",
                        f"odoo_export=imports/{name}.zip", "-v")
    assert f"import: imports/{name}.zip" in imported.stdout
    info = playbook("tenant_info.yml", "-e", f"tenant_name={name}", "-v").stdout
    servers = {s.name: s for s in (tenants.SHARED_1, tenants.SHARED_2)}
    server = servers[re.search(r"server: (postgres-shared-\d+)", info).group(1)]
    with tenants.connect(server, f"odoo_{name.replace('-', '_')}") as conn:
        assert conn.execute("SELECT name FROM res_partner ORDER BY id").fetchall() == [("imported 1",), ("imported 2",)]
    again = playbook("tenant_import.yml", "-e", f"tenant_name={name}", "-e", "tenant_plan=small", "-e",
                     f"odoo_export=imports/{name}.zip", check=False)
    assert again.returncode != 0 and "an import makes a new tenant" in again.stdout
    playbook("tenant_decommission.yml", "-e", f"tenant_name={name}", "-e", f"tenant_confirm={name}", "-e",
             "tenant_backup=false")
