"""The dedicated PostgreSQL server's scripts run for real (issue 10, item 8): the first-boot init
script and the postStart hook that sets the tenant role's CONNECTION LIMIT on every start,
taken from the manifests the kit applies and run against a scratch PostgreSQL cluster here.

What the official image does around them is replayed step by step (a stand-in for its
docker-entrypoint.sh, not the image itself): on a first boot initdb (--username=postgres and
the POSTGRES_PASSWORD, local connections trusted, `host all all all scram-sha-256` appended),
a temporary server on the Unix socket only, each executable script of
/docker-entrypoint-initdb.d run with the entrypoint's exports (POSTGRES_USER, POSTGRES_DB,
PGPASSWORD), that server stopped; then the server itself. The hook starts at the same time as
the container, with the container's environment only (the StatefulSet's env, no
POSTGRES_USER), as the kubelet runs it. Deviations, for this machine: PGDATA and the scripts'
directory are temporary paths, the port is a free one (PGPORT, which the image honours) and
the server listens on 127.0.0.1 only; the socket directory is /var/run/postgresql, as in the
image."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import uuid

import psycopg
import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import (
    tenant as manifests, postgres as manifests_postgres,
)
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import load_plan
from tests.cluster import postgres
from tests.integration import odoo_database_contract as odoo
from tests.integration.scratch_postgres import free_port
from tests.unit.plans_fixture import platform, raw_plans
from tests.unit.test_manifests import database_for, secrets_for

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
SOCKET_DIR = "/var/run/postgresql"  # the image's, and Debian's, compiled-in default
TENANT = "initech"


def rendered(limit):
    """The tenant's objects on the large (dedicated) plan with the given connection limit, as
    the kit renders them: {(kind, name): object}."""
    plan = load_plan("large", {**raw_plans()["large"], "db_connection_limit": limit}, "plans.large")
    configured = platform()
    configured = dataclasses.replace(configured, plans={**configured.plans, "large": plan})
    spec = specs.build_spec({"name": TENANT, "plan": "large"}, configured)
    objects = manifests.tenant_objects(spec, configured, database_for(spec), secrets_for(TENANT))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def statefulset_and_scripts(limit):
    """(container, ConfigMap data, Secret stringData, pod template) of the dedicated server."""
    by_kind = rendered(limit)
    template = by_kind[("StatefulSet", "postgres")]["spec"]["template"]
    return (template["spec"]["containers"][0], by_kind[("ConfigMap", "postgres-init")]["data"],
            by_kind[("Secret", "postgres")]["stringData"], template)


class ImageLikeServer:
    """One data directory booted the way the official image boots it (see the module doc)."""

    def __init__(self):
        self.base = postgres.data_root().parent / f"scratch-dedicated-{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        self.pgdata = self.base / "pgdata"
        self.initdb_dir = self.base / "docker-entrypoint-initdb.d"
        self.scripts_dir = self.base / "opt-odoo-saas"
        self.log = self.base / "server.log"
        for directory in (self.base, self.initdb_dir, self.scripts_dir):
            directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base, postgres.SYSTEM_USER, postgres.SYSTEM_USER)
        self.base.chmod(0o700)

    def container_env(self, container, secret):
        """The container's environment: the image's (PATH, PGDATA, ...) and the StatefulSet's env."""
        env = {"PATH": f"{postgres.bin_dir()}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "PGPORT": str(self.port), "HOME": "/var/lib/postgresql"}
        for entry in container["env"]:
            reference = entry.get("valueFrom", {}).get("secretKeyRef")
            env[entry["name"]] = secret[reference["key"]] if reference else entry["value"]
        env["PGDATA"] = str(self.pgdata)  # the manifest's path, /var/lib/postgresql/data/pgdata, moved here
        return env

    def env_for(self, limit):
        container, _data, secret, _template = statefulset_and_scripts(limit)
        return self.container_env(container, secret)

    def _run(self, argv, env, **kwargs):
        return subprocess.run([RUNUSER, "-u", postgres.SYSTEM_USER, "--", *argv], env=env, text=True,
                              capture_output=True, timeout=120, check=False, **kwargs)

    def _checked(self, argv, env):
        result = self._run(argv, env)
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
        return result

    def install_scripts(self, data):
        for directory, key in ((self.initdb_dir, manifests_postgres.INIT_SCRIPT_NAME),
                               (self.scripts_dir, manifests_postgres.CONNECTION_LIMIT_SCRIPT_NAME)):
            path = directory / key
            path.write_text(data[key])
            path.chmod(0o555)  # the ConfigMap volume's defaultMode

    def hook(self, container):
        """The postStart hook's command, with the scripts' mount moved here."""
        command = container["lifecycle"]["postStart"]["exec"]["command"]
        return [part.replace(manifests_postgres.SCRIPTS_MOUNT, str(self.scripts_dir)) for part in command]

    def entrypoint(self, env):
        """What docker-entrypoint.sh does before it execs postgres; True on a first boot."""
        first = not (self.pgdata / "PG_VERSION").exists()
        if first:
            pwfile = self.base / "pwfile"
            pwfile.write_text(env["POSTGRES_PASSWORD"] + "\n")
            shutil.chown(pwfile, postgres.SYSTEM_USER)
            pwfile.chmod(0o600)
            self._checked(["initdb", "--username=postgres", f"--pwfile={pwfile}", "-D", str(self.pgdata)], env)
            pwfile.unlink()
            with open(self.pgdata / "pg_hba.conf", "a") as hba:
                hba.write("\nhost all all all scram-sha-256\n")
            init_env = dict(env, POSTGRES_USER="postgres", POSTGRES_DB="postgres", PGPASSWORD=env["POSTGRES_PASSWORD"])
            self._checked(["pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-o",
                           f"-c listen_addresses='' -p {self.port}", "-w", "start"], init_env)
            for script in sorted(self.initdb_dir.iterdir()):
                self._checked([str(script)], init_env)
            self._checked(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], init_env)
        self.start_server(env)
        return first

    def start_server(self, env):
        self._checked(["pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "60", "-o",
                       f"-c listen_addresses=127.0.0.1 -p {self.port}", "start"], env)

    def boot(self, limit):
        """A container start: the hook beside the entrypoint; returns (first boot?, hook result)."""
        container, data, secret, _template = statefulset_and_scripts(limit)
        self.install_scripts(data)
        env = self.container_env(container, secret)
        hook = subprocess.Popen([RUNUSER, "-u", postgres.SYSTEM_USER, "--", *self.hook(container)], env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = self.entrypoint(env)
        finally:
            out, err = hook.communicate(timeout=180)
        return first, subprocess.CompletedProcess(hook.args, hook.returncode, out, err)

    def stop(self):
        if (self.pgdata / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop"], {"PATH": str(postgres.bin_dir())})

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def superuser(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                               password=secrets_for(TENANT).postgres_password, autocommit=True, connect_timeout=5)

    def tenant(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user=f"odoo_{TENANT}", dbname=f"odoo_{TENANT}",
                               password=secrets_for(TENANT).db_password, connect_timeout=5)

    def role(self):
        with self.superuser() as conn:
            return conn.execute("SELECT rolconnlimit, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                                "WHERE rolname = %s", (f"odoo_{TENANT}",)).fetchone()


@pytest.fixture()
def server():
    booted = ImageLikeServer()
    yield booted
    booted.remove()


def test_a_plan_change_reaches_the_roles_connection_limit_on_the_next_start(server):
    first, hook = server.boot(limit=40)
    assert first and hook.returncode == 0, hook
    assert "may hold 40 connections" in hook.stderr, hook.stderr
    assert server.role() == (40, False, False, False)  # the init script ran: no superuser, CREATEDB, CREATEROLE
    with server.tenant() as own:
        assert own.execute("SELECT current_user").fetchone()[0] == f"odoo_{TENANT}"

    # A plan change: the limit is in the pod template, so the StatefulSet rolls and the pod restarts.
    assert statefulset_and_scripts(40)[3] != statefulset_and_scripts(36)[3]
    server.stop()
    first, hook = server.boot(limit=36)
    assert not first and hook.returncode == 0, hook  # no init script this time: the data directory exists
    assert "may hold 36 connections" in hook.stderr, hook.stderr
    assert server.role()[0] == 36
    held = [server.tenant() for _connection in range(36)]
    try:
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            server.tenant()
    finally:
        for conn in held:
            conn.close()


def test_the_hook_retries_while_the_server_is_down_and_never_fails_the_container(server):
    container, data, secret, _template = statefulset_and_scripts(40)
    server.install_scripts(data)
    env = server.container_env(container, secret)
    server.entrypoint(env)
    server.stop()

    # The server down for the whole wait (a crash recovery longer than the hook waits): the
    # hook gives up with exit 0, so the kubelet does not kill the container; the limit stays.
    given_up = server._run(server.hook(container), dict(server.env_for(37), CONNECTION_LIMIT_WAIT="3"))
    assert given_up.returncode == 0, given_up
    assert "left as it was until the next start" in given_up.stderr, given_up.stderr

    # The server coming up while the hook waits: the hook's retries reach it.
    waiting = subprocess.Popen([RUNUSER, "-u", postgres.SYSTEM_USER, "--", *server.hook(container)],
                               env=server.env_for(37), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server.start_server(env)
    _out, err = waiting.communicate(timeout=180)
    assert waiting.returncode == 0 and "may hold 37 connections" in err, err
    assert server.role()[0] == 37

    # A value that is not a number is never interpolated into SQL; the server is untouched.
    bogus = server._run(server.hook(container), dict(env, TENANT_CONNECTION_LIMIT="5; DROP ROLE postgres"))
    assert bogus.returncode == 0 and "not a whole number" in bogus.stderr, bogus
    assert server.role()[0] == 37


def test_the_hook_reads_no_secret_from_its_command_line():
    container, data, _secret, _template = statefulset_and_scripts(40)
    script = data[manifests_postgres.CONNECTION_LIMIT_SCRIPT_NAME]
    secrets = secrets_for(TENANT)
    assert secrets.postgres_password not in script and secrets.db_password not in script
    assert all(secrets.postgres_password not in part for part in container["lifecycle"]["postStart"]["exec"]["command"])
    assert os.path.basename(container["lifecycle"]["postStart"]["exec"]["command"][-1]) in data


def test_odoos_database_contract_holds_on_the_dedicated_server(server):
    """What Odoo does with its own odoo.conf (odoo_database_contract: its database looked up
    through `postgres`, a CREATE DATABASE refused as a privilege error, cron LISTEN and bus
    NOTIFY on `postgres`, every pool of every pod at once), against the dedicated server booted
    as the image boots it, with the kit's init script and hook."""
    limit = raw_plans()["large"]["db_connection_limit"]
    first, hook = server.boot(limit=limit)
    assert first and hook.returncode == 0, hook
    by_kind = rendered(limit)
    config = odoo.parse_config(by_kind[("Secret", "odoo-config")]["stringData"]["odoo.conf"], port_here=server.port)
    assert (config.host, config.port) == ("postgres", 5432)  # the tenant's own Service
    assert odoo.start(config) == "42501"
    assert sorted(odoo.listen_and_notify(config)) == sorted([(odoo.BUS_CHANNEL, '["broadcast"]'),
                                                            (odoo.CRON_CHANNEL, config.database)])
    pools = odoo.pool_sizes({name: by_kind[(kind, name)] for kind, name in (
        ("Deployment", "odoo-web"), ("Deployment", "odoo-cron"), ("Job", "odoo-db-init"))}, config)
    total = pools["web"] + pools["cron"] + pools["init"]
    assert 0 < total <= limit, pools
    assert odoo.hold(config, total, listeners=pools["cron_threads"]) == total
