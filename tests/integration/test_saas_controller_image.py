"""roles/controller_image's build context, prepared for real by the role's own tasks (context.yml)
through ansible-playbook on localhost; no Docker needed. Then what the image does is carried out
without Docker: the controller is run from the context's copy of the collection with the
environment the Dockerfile sets (PYTHONPATH, no bytecode), by a Python of the base image's minor
version, and must import nothing but the standard library and the pinned packages (with what
they require). A real `docker build` happens on a build host (playbooks/controller_image.yml)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .test_backup_image_context import context_playbook, recap_changed

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROGRAM = "ansible_collections.odoo_saas.kit.controller"
COLLECTION = "/opt/odoo-saas/collection"

PLAYBOOK = context_playbook("controller_image")

# Run with the image's environment: what the program imports (beyond what Python's start-up
# loaded), the distributions those modules come from, and where the collection's modules are.
PROBE = f"""
import importlib.metadata, json, sys
started = set(sys.modules)
import {PROGRAM}.__main__, {PROGRAM}.app
owners = importlib.metadata.packages_distributions()
imported = {{m.split('.')[0] for m in set(sys.modules) - started}} - set(sys.stdlib_module_names)
third_party = {{m: owners.get(m) for m in imported if 'site-packages' in (getattr(sys.modules.get(m), '__file__', None) or '')}}
ours = sorted({{getattr(m, '__file__', None) or '' for n, m in sys.modules.items() if n.startswith('ansible_collections.odoo_saas')}} - {{''}})
print(json.dumps({{'third_party': third_party, 'ours': ours}}))
"""


def prepare(tmp_path):
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
                             "-e", f"controller_image_build_dir={tmp_path / 'context'}", str(tmp_path / "playbook.yml")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result


def dockerfile_env(dockerfile):
    joined = re.sub(r"\\\n", " ", dockerfile)
    [line] = [line for line in joined.splitlines() if line.startswith("ENV ")]
    return dict(pair.split("=", 1) for pair in line.split()[1:])


def image_environment(dockerfile, root):
    """The ENV the Dockerfile sets, with the image's collection directory at `root`."""
    values = dockerfile_env(dockerfile)
    return {"PYTHONPATH": values["PYTHONPATH"].replace(COLLECTION, str(root)), "PYTHONDONTWRITEBYTECODE": values["PYTHONDONTWRITEBYTECODE"],
            "HOME": str(root.parent), "TMPDIR": str(root.parent), "PATH": os.environ["PATH"]}


def requirement_closure(pins):
    """The distributions the pins bring, with what they require (markers and extras evaluated here)."""
    seen, todo = set(), [Requirement(pin) for pin in pins]
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(requirement.name) or []:
            child = Requirement(line)
            if child.marker is None or any(child.marker.evaluate({"extra": extra}) for extra in requirement.extras | {""}):
                todo.append(child)
    return {name for name, _extras in seen}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("controller-image")
    return tmp_path, prepare(tmp_path)


def test_the_context_holds_the_controller_on_a_pinned_python_as_a_non_root_user(prepared):
    tmp_path, first = prepared
    context = tmp_path / "context"
    dockerfile = (context / "Dockerfile").read_text()
    defaults = yaml.safe_load((REPO / "roles" / "controller_image" / "defaults" / "main.yml").read_text())
    [base] = re.findall(r"^FROM (\S+)$", dockerfile, re.MULTILINE)
    pinned = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-\w+", base)
    assert pinned, f"{base} is not an exact Python release"
    assert tuple(map(int, pinned.groups()[:2])) == sys.version_info[:2], "the test runs the controller with another Python than the image's"
    uid = defaults["controller_image_uid"]
    assert f"USER {uid}:{uid}" in dockerfile and uid > 0
    saas_system = yaml.safe_load((REPO / "roles" / "saas_system" / "defaults" / "main.yml").read_text())
    assert saas_system["saas_system_controller_uid"] == uid, "the Deployment runs another uid than the image's user"
    assert f'ENTRYPOINT ["python", "-m", "{PROGRAM}"]' in dockerfile
    assert "**/__pycache__" in (context / ".dockerignore").read_text()
    assert not list((context / "collection").rglob("__pycache__")), "the archive carried compiled files"
    assert recap_changed(first.stdout) >= 1
    again = prepare(tmp_path)
    assert recap_changed(again.stdout) == 0, "preparing an unchanged context again changed it"

    # Every pin is exact and inside the ranges the collection and the controller require, and every
    # package the controller requires is pinned.
    wanted = {}
    for path in (REPO / "requirements.txt", REPO / "controller" / "requirements.txt"):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                wanted[Requirement(line).name.lower()] = Requirement(line)
    pins = {Requirement(line).name.lower(): Requirement(line) for line in (context / "requirements.txt").read_text().split()}
    for name, pin in pins.items():
        [spec] = list(pin.specifier)
        assert spec.operator == "==", f"{pin} is not pinned"
        assert name in wanted and wanted[name].specifier.contains(spec.version), f"{pin} is outside {wanted.get(name)}"
    controller_needs = {Requirement(line).name.lower() for line in (REPO / "controller" / "requirements.txt").read_text().splitlines()
                        if line.strip() and not line.startswith("#")}
    assert controller_needs <= set(pins), f"not pinned: {sorted(controller_needs - set(pins))}"


def test_the_controller_runs_from_the_images_copy_and_imports_nothing_else(prepared):
    tmp_path, _first = prepared
    context = tmp_path / "context"
    root = context / "collection"
    env = image_environment((context / "Dockerfile").read_text(), root)
    shown = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60)
    assert shown.returncode == 0, shown.stderr[-3000:]
    found = json.loads(shown.stdout.splitlines()[-1])
    assert found["ours"] and all(path.startswith(str(root)) for path in found["ours"]), found["ours"]
    allowed = requirement_closure((context / "requirements.txt").read_text().split())
    outside = {module: owners for module, owners in found["third_party"].items()
               if not owners or not {canonicalize_name(owner) for owner in owners} & allowed}
    assert not outside, f"the controller imports {outside}, which the image's pinned packages do not bring"
    assert "ansible" not in found["third_party"]

    helped = subprocess.run([sys.executable, "-m", PROGRAM, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=False, timeout=60)
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "serve" in helped.stdout and "token" in helped.stdout
    # The Dockerfile's CMD, without the settings the Deployment mounts: refused, naming the variable.
    [cmd] = re.findall(r"^CMD (\[.*\])$", (context / "Dockerfile").read_text(), re.MULTILINE)
    served = subprocess.run([sys.executable, "-m", PROGRAM, *json.loads(cmd)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, check=False, timeout=60)
    assert served.returncode == 2 and "SAAS_CONTROLLER_CONFIG" in served.stderr, served.stderr[-3000:]
    assert not list(root.rglob("*.pyc")), "the controller wrote bytecode (the pod's root filesystem is read-only)"
