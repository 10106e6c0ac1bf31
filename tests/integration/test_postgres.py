"""The local PostgreSQL servers: one cluster each for the ledger and two shared servers,
SCRAM password logins on loopback only, with the pg_hba.conf and settings their roles deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.cluster import postgres, server_config, settings


def _connect(server, password=None):
    return psycopg.connect(host="127.0.0.1", port=server.port, user=postgres.SUPERUSER,
                           password=password or server.password(), dbname="postgres", connect_timeout=5)


@pytest.mark.parametrize("server", postgres.SERVERS, ids=lambda s: s.name)
def test_server_accepts_its_superuser_with_scram(server):
    with _connect(server) as conn:
        assert conn.execute("SHOW password_encryption").fetchone()[0] == "scram-sha-256"
        assert conn.execute("SHOW port").fetchone()[0] == str(server.port)
        stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = current_user").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize("server", postgres.SERVERS, ids=lambda s: s.name)
def test_server_refuses_a_wrong_password(server):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(server, password="not-the-password")


def test_servers_are_separate_clusters():
    identities = set()
    for server in postgres.SERVERS:
        with _connect(server) as conn:
            identities.add(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
    assert len(identities) == len(postgres.SERVERS)


def test_servers_listen_on_loopback_only():
    for server in postgres.SERVERS:
        with _connect(server) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


def _rendered_by_ansible(tmp_path, template, variables):
    """pg_hba.conf as Ansible renders the role's template (its Templar and filters)."""
    out = tmp_path / "pg_hba.conf"
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "vars": {**variables, "ansible_python_interpreter": sys.executable},
        "tasks": [{"name": "Render", "ansible.builtin.copy": {
            "content": f"{{{{ lookup('ansible.builtin.template', {str(template)!r}) }}}}", "dest": str(out)}}],
    }]))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                          str(playbook)], capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "ANSIBLE_CONFIG": str(settings.REPO / "ansible.cfg")})
    assert run.returncode == 0, run.stdout + run.stderr
    return out.read_text()


@pytest.mark.parametrize("server", postgres.SERVERS, ids=lambda s: s.name)
def test_servers_run_with_their_roles_pg_hba_and_settings(server, tmp_path):
    """One source: the running local server's pg_hba.conf is what Ansible renders from the
    role's template, and its settings are the role's (tests/cluster/server_config.py)."""
    definition = server.definition
    template = server_config.ROLES / definition.role / "templates" / definition.hba_template
    defaults = yaml.safe_load((server_config.ROLES / definition.role / "defaults" / "main.yml").read_text())
    tls_variable = {"postgres_shared": "postgres_shared_tls", "saas_system": "saas_system_ledger_tls"}[definition.role]
    assert (server.data / "pg_hba.conf").read_text() == _rendered_by_ansible(
        tmp_path, template, {tls_variable: defaults[tls_variable]})
    with _connect(server) as conn:
        assert conn.execute("SELECT current_setting('hba_file')").fetchone()[0] == str(server.data / "pg_hba.conf")
        for key, value in defaults[definition.settings_variable].items():
            # current_setting() shows a value as it was set (1GB, on), in the setting's own unit.
            assert conn.execute("SELECT current_setting(%s)", (key,)).fetchone()[0] == str(value), key
