"""The backup and restore Job (manifests/backup_job) gives its program (programs/backup_job)
every variable it reads, secrets only by reference, the filestore read-only to a backup, and
a name that is a valid Job name; bad input is refused naming the field."""

from __future__ import annotations

import io

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import encryption
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import backup_job as jobs
from ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job import Program, main
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import egress, job_contract as env

S3 = jobs.BackupTargetSettings(kind="s3", endpoint="https://s3.example.net", bucket="backups", prefix="prod")
DIRECTORY = jobs.BackupTargetSettings(kind="directory", claim="backups", prefix="prod")


def _job(command="backup", target=S3, **overrides):
    values = dict(name="acme", namespace="tenant-acme", command=command, backup_id="20261202-010203-manual-abc123",
                  database="acme", plan="small", odoo_version="18.0", image="localhost:32000/odoo-saas-backup:1",
                  target=target)
    if command == "import":
        values.update(import_key="imports/acme.zip", run_id="import-1")
    values.update(overrides)
    return jobs.BackupJob(**values)


def _environment(body):
    """The container's environment with each secretKeyRef standing for a value (the port a number)."""
    container = body["spec"]["template"]["spec"]["containers"][0]
    stand_in = {"port": "5432"}
    return {v["name"]: v["value"] if "value" in v else stand_in.get(v["valueFrom"]["secretKeyRef"]["key"],
                                                                    f"<{v['valueFrom']['secretKeyRef']['key']}>")
            for v in container["env"]}


@pytest.mark.parametrize("command", env.COMMANDS)
@pytest.mark.parametrize("target", (S3, DIRECTORY), ids=("s3", "directory"))
def test_the_job_gives_its_program_everything_it_reads(command, target):
    body = jobs.backup_job(_job(command, target))
    program = Program(_environment(body), io.StringIO())
    built = program.target()
    assert built.kind == target.kind and built.prefix == "prod"
    assert program.database().dbname == "acme"
    for name in (env.TENANT, env.IMPORT_KEY if command == "import" else env.BACKUP_ID, env.FILESTORE, env.SCRATCH):
        assert program.need(name)
    assert body["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python3", "-m", env.PROGRAM_MODULE, command]


def test_secrets_come_by_reference_and_the_filestore_is_read_only_to_a_backup():
    body = jobs.backup_job(_job(encrypt_to=encryption.public_of(encryption.new_identity())))
    pod = body["spec"]["template"]["spec"]
    variables = {v["name"]: v for v in pod["containers"][0]["env"]}
    for name in (env.PGPASSWORD, env.SECRET_KEY, env.ACCESS_KEY):
        assert "value" not in variables[name] and variables[name]["valueFrom"]["secretKeyRef"]
    assert env.IDENTITY not in variables, "a backup Job never holds the key that decrypts"
    assert variables[env.ENCRYPT_TO]["value"].startswith("age1")
    assert [m["readOnly"] for m in pod["containers"][0]["volumeMounts"] if m["name"] == "filestore"] == [True]
    assert pod["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
    assert body["metadata"]["name"] == "backup-20261202-010203-manual-abc123"
    restore = jobs.backup_job(_job("restore", filestore_database="acme_copy", database="acme_copy"))
    restore_env = _environment(restore)
    assert restore_env[env.IDENTITY] == "<identity>" and restore_env[env.FILESTORE].endswith("/filestore/acme_copy")
    assert restore["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] is False


@pytest.mark.parametrize("overrides, field", [
    ({"command": "purge"}, "command"),
    ({"backup_id": "Not_A_Name"}, "backup_id"),
    ({"odoo_version": "12.0"}, "odoo_version"),
    ({"target": jobs.BackupTargetSettings(kind="ftp")}, "backup_target.kind"),
    ({"replace": True}, "replace"),
])
def test_bad_input_is_refused_naming_the_field(overrides, field):
    with pytest.raises(SpecError) as error:
        jobs.backup_job(_job(**overrides))
    assert error.value.field == field


def test_a_replacing_restore_names_its_run_and_every_kind_reaches_the_program_whole():
    replacing = _environment(jobs.backup_job(_job("restore", run_id="20261203-101500-a1b2c3", replace=True)))
    assert replacing[env.REPLACE_RUN] == "20261203-101500-a1b2c3"
    assert env.REPLACE_RUN not in _environment(jobs.backup_job(_job("restore", run_id="copy-1")))
    for kind in ("manual", "pre-update", "pre-restore", "final"):
        backup_id = f"20261202-010203-{kind}-abc123"
        assert _environment(jobs.backup_job(_job(backup_id=backup_id)))[env.KIND] == kind


def test_the_program_names_a_missing_variable_and_an_unknown_command():
    out = io.StringIO()
    assert main(["backup"], {}, out) == 1
    assert "ODOO_SAAS_TENANT is not set" in out.getvalue()
    out = io.StringIO()
    assert main(["purge"], {}, out) == 1
    assert "command: 'purge' is not one of backup, restore, import" in out.getvalue()


def test_backup_pods_reach_their_database_and_the_store_and_a_dedicated_server_admits_them():
    closed = egress.closed_ranges("10.1.0.0/16", "10.152.183.0/24")
    shared = jobs.network_policies(_job(), "postgres-shared-1", 5432, closed_ranges=closed)
    assert [p["metadata"]["name"] for p in shared] == [jobs.NETWORK_POLICY]
    database, store = shared[0]["spec"]["egress"]
    assert database["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "postgres-shared-1"}
    # the platform's closed ranges inside 0.0.0.0/0 (the IPv4 ones), as CIDRs
    assert store["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.1.0.0/16", "10.152.183.0/24", "169.254.169.254/32"]}}]
    assert store["ports"] == [{"protocol": "TCP", "port": 443}]
    dedicated = jobs.network_policies(_job(), "tenant-acme", 5432, dedicated=True)
    ingress = dedicated[1]["spec"]
    assert ingress["policyTypes"] == ["Ingress"]
    assert ingress["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": jobs.BACKUP_PROGRAM}}}]
    named = jobs.network_policies(_job(target=jobs.BackupTargetSettings(kind="s3", endpoint="https://10.0.0.5:9000",
                                                                        egress_cidrs=("10.0.0.5/32",), egress_port=9000)),
                                  "postgres-shared-1", 5432, closed_ranges=egress.closed_ranges("10.0.0.0/8", "10.152.183.0/24"))
    assert named[0]["spec"]["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}],
                                             "ports": [{"protocol": "TCP", "port": 9000}]}


def test_the_daily_schedule_spreads_a_servers_tenants_over_the_hour_and_applies_the_plans_retention():
    from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import BackupPolicy, parse_retention

    policy = BackupPolicy(hour=3, keep_daily=5, keep_weekly=2, keep_monthly=1)
    minutes = [policy.minute_for(f"tenant{index}") for index in range(50)]
    assert len(set(minutes)) >= 25, "50 tenants of one server would dump in too few minutes"
    assert policy.schedule_for("acme") == f"{policy.minute_for('acme')} 3 * * *" == policy.schedule_for("acme")
    assert parse_retention(policy.retention_text(), "x") == BackupPolicy(keep_daily=5, keep_weekly=2, keep_monthly=1)
    for bad in ("", "daily=5", "daily=five,weekly=1,monthly=1", "hourly=1,weekly=1,monthly=1"):
        with pytest.raises(SpecError) as error:
            parse_retention(bad, env.RETENTION)
        assert error.value.field == env.RETENTION

    scheduled = _job(backup_id="", retention=policy.retention_text())
    cron = jobs.backup_schedule(scheduled, policy.schedule_for("acme"), suspend=True)
    assert cron["kind"] == "CronJob" and cron["spec"]["suspend"] is True and cron["spec"]["timeZone"] == "Etc/UTC"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    variables = _environment({"spec": {"template": cron["spec"]["jobTemplate"]["spec"]["template"]}})
    assert env.BACKUP_ID not in variables, "each scheduled run names its own backup"
    assert variables[env.KIND] == "scheduled" and variables[env.RETENTION] == "daily=5,weekly=2,monthly=1"
    program = Program(variables, io.StringIO())
    assert program.database().dbname == "acme" and program.target().bucket == "backups"
    with pytest.raises(SpecError) as error:
        jobs.backup_job(_job(retention="daily=1,weekly=0,monthly=0"))
    assert error.value.field == "retention"
