"""Run ansible-playbook from the proof suites: against inventories/local (or a copy of it), with
the platform connection pointed at a scratch ledger, capturing everything Ansible prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".local"


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self):
        return self.stdout + self.stderr

    def results(self):
        """Per task, the host's result (the json stdout callback's output)."""
        report = json.loads(self.stdout[self.stdout.index("{"):])
        found = []
        for play in report["plays"]:
            for task in play["tasks"]:
                found.append((task["task"]["name"], task["hosts"].get("localhost", {})))
        return found


def ansible_playbook(playbook, *args, inventory="inventories/local", json_output=False, env=None):
    binary = Path(sys.executable).parent / "ansible-playbook"
    run_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ODOO_SAAS_STATE=str(STATE), PATH=f"{binary.parent}:{os.environ['PATH']}")
    run_env.pop("ODOO_SAAS_ENV_FILE", None)
    if json_output:
        run_env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    run_env.update(env or {})
    completed = subprocess.run([str(binary), "-i", str(inventory), str(playbook), *args], cwd=REPO, env=run_env,
                               capture_output=True, text=True, timeout=900, check=False)
    return PlaybookRun(completed.returncode, completed.stdout, completed.stderr)


def scratch_ledger_vars(ledger_db, backup_dir=None):
    """Variables that keep a playbook's tenant module on a scratch ledger (the inventory's
    password lookup is kept, so no password is written anywhere by the test)."""
    values = {"odoo_saas_ledger": {
        "host": "127.0.0.1", "port": 15432, "database": ledger_db, "user": "postgres",
        "password": "{{ lookup('ansible.builtin.file', odoo_saas_local_state ~ '/postgres/saas-system.password') }}"}}
    if backup_dir is not None:
        values["odoo_saas_backup_dir"] = str(backup_dir)
    return values


def write_extra_vars(path, values):
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return f"@{path}"


class Template(str):
    """A string the generated playbook keeps as a template (to reach the inventory's passwords)."""


class _UnsafeDumper(yaml.SafeDumper):
    """Strings that look like templates are written !unsafe, so Ansible passes them as they are."""


def _string(dumper, value):
    if "{" in value or "%" in value:
        return dumper.represent_scalar("!unsafe", value, style='"')
    return dumper.represent_str(value)


_UnsafeDumper.add_representer(str, _string)
_UnsafeDumper.add_representer(Template, lambda dumper, value: dumper.represent_str(str(value)))


def dump_playbook(plays):
    return yaml.dump(plays, Dumper=_UnsafeDumper, sort_keys=False, allow_unicode=False, width=10_000)


def copy_project(target):
    """A project checkout holding only what inventories/local needs: the base group_vars/ and
    inventories/local (the layered vars plugin finds the project by its inventories/ directory)."""
    shutil.copytree(REPO / "group_vars", target / "group_vars")
    shutil.copytree(REPO / "inventories" / "local", target / "inventories" / "local")
    return target / "inventories" / "local"
