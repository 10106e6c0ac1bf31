"""roles/backup_image's build context, prepared for real by the role's own tasks (context.yml)
through ansible-playbook on localhost; no Docker needed. Then what the image does is carried
out without Docker: the program is run from the context's copy of the collection with the
environment the Dockerfile sets (PYTHONPATH, no bytecode), and must import nothing outside it
but the pinned packages. A real `docker build` happens on a build host (playbooks/backup_image.yml)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROGRAM = "ansible_collections.odoo_saas.kit.plugins.module_utils.programs.backup_job"


def context_playbook(role):
    """A playbook that writes `role`'s build context with the role's own context.yml."""
    return f"""
- name: Prepare the {role} build context
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Write the build context
      ansible.builtin.include_role:
        name: odoo_saas.kit.{role}
        tasks_from: context.yml
"""


PLAYBOOK = context_playbook("backup_image")


def prepare(tmp_path, settings):
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps({"backup_image_build_dir": str(tmp_path / "context")} | settings))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-e",
                             f"ansible_python_interpreter={sys.executable}", "-e", f"@{tmp_path / 'vars.json'}",
                             str(tmp_path / "playbook.yml")], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result


def recap_changed(output):
    return int(re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


def image_environment(dockerfile, root):
    """The ENV the Dockerfile sets, with the image's /opt/odoo-saas/collection at `root`."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    [line] = [line for line in joined.splitlines() if line.startswith("ENV ")]
    values = dict(pair.split("=", 1) for pair in line.split()[1:])
    return {"PYTHONPATH": values["PYTHONPATH"].replace("/opt/odoo-saas/collection", str(root)),
            "PYTHONDONTWRITEBYTECODE": values["PYTHONDONTWRITEBYTECODE"], "PATH": os.environ["PATH"]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The context prepared once (each run copies the collection's files one by one: ~40 s)."""
    tmp_path = tmp_path_factory.mktemp("backup-image")
    return tmp_path, prepare(tmp_path, {"odoo_saas_postgres_image": "postgres:17.6-bookworm"})


def test_the_context_holds_the_program_on_the_servers_postgresql_image_with_pinned_packages(prepared):
    tmp_path, first = prepared
    context = tmp_path / "context"
    dockerfile = (context / "Dockerfile").read_text()
    assert "FROM postgres:17.6-bookworm\n" in dockerfile, "pg_dump must be the servers' own version"
    assert "USER 100:101" in dockerfile and "**/__pycache__" in (context / ".dockerignore").read_text()
    assert recap_changed(first.stdout) >= 1
    again = prepare(tmp_path, {"odoo_saas_postgres_image": "postgres:17.6-bookworm"})
    assert recap_changed(again.stdout) == 0, "preparing an unchanged context again changed it"

    # Every pin is exact and inside the range the collection itself requires.
    wanted = {Requirement(line).name: Requirement(line) for line in (REPO / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    for line in (context / "requirements.txt").read_text().split():
        pin = Requirement(line)
        [spec] = list(pin.specifier)
        assert spec.operator == "==", f"{line} is not pinned"
        assert pin.name in wanted and wanted[pin.name].specifier.contains(spec.version), f"{line} is outside {wanted[pin.name]}"


def test_the_program_runs_from_the_images_copy_and_imports_nothing_else(prepared):
    tmp_path, _first = prepared
    root = tmp_path / "context" / "collection"
    compiled = set(root.rglob("*.pyc"))  # copied from the source tree; .dockerignore keeps them out
    env = image_environment(tmp_path / "context" / "Dockerfile", root)
    probe = (f"import sys, {PROGRAM} as program\n"
             "print(program.__file__)\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'ansible', 'kubernetes', 'yaml', 'jinja2'}))\n")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                           check=False, timeout=60)
    assert shown.returncode == 0, shown.stderr
    path, imported = shown.stdout.splitlines()
    assert path.startswith(str(root)), path
    assert imported == "[]", f"the program needs {imported}, which the image does not hold"
    ran = subprocess.run([sys.executable, "-m", PROGRAM, "backup"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=False, timeout=60)
    assert ran.returncode == 1 and json.loads(ran.stdout.splitlines()[-1])["msg"].startswith("ODOO_SAAS_TENANT is not set")
    assert set(root.rglob("*.pyc")) == compiled, "the program wrote bytecode (the Job's root filesystem is read-only)"
