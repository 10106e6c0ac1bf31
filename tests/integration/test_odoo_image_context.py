"""roles/odoo_image's build context, prepared for real by the role's own tasks (validate.yml,
context.yml) through ansible-playbook on localhost, from git repositories made here; no Docker and
no local platform needed. Then the Dockerfile's steps that matter are carried out without Docker:
the pip step under the official image's shell against the pips of the official images'
distributions, and the addons COPY steps applied to a scratch root as Docker applies them (a
source directory's contents into the destination directory, .dockerignore's **/.git left out).
The host scenario extensions/molecule_host/image_build builds with a real Docker Engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PIP_CACHE = Path.home() / ".cache" / "odoo-saas-kit" / "pips"
# The official images' FROM lines (odoo/docker <version>/Dockerfile) and their distributions' pip;
# and Debian bookworm's, the first pip with --break-system-packages (a base built on Debian 12).
IMAGE_PIPS = {
    "16.0 (debian:bullseye-slim)": ("16.0", "20.3.4"),
    "17.0 (ubuntu:jammy)": ("17.0", "22.0.2"),
    "a debian:bookworm-slim base": ("18.0", "23.0.1"),
    "18.0, 19.0 (ubuntu:noble)": ("18.0", "24.0"),
}
# The official images set SHELL ["/bin/bash", "-xo", "pipefail", "-c"], which RUN steps inherit.
IMAGE_SHELL = ["/bin/bash", "-xo", "pipefail", "-c"]

PLAYBOOK = """
- name: Prepare the odoo_image build context
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Check the addons entries
      ansible.builtin.include_role:
        name: odoo_saas.kit.odoo_image
        tasks_from: validate.yml
    - name: Write the build context
      ansible.builtin.include_role:
        name: odoo_saas.kit.odoo_image
        tasks_from: context.yml
"""


def git_repository(path, files):
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git = ["git", "-C", str(path), "-c", "user.name=test", "-c", "user.email=test@example.test"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "addons"], check=True)
    return f"file://{path}"


def manifest(name):
    return repr({"name": name, "version": "18.0.1.0.0", "license": "LGPL-3"}) + "\n"


@pytest.fixture(scope="module")
def repositories(tmp_path_factory):
    root = tmp_path_factory.mktemp("git")
    return {
        # OCA-like: many modules, plus files at the root that are no module.
        "multi": git_repository(root / "multi-addons", {
            "README.md": "modules\n", "a_mod/__manifest__.py": manifest("A"), "a_mod/__init__.py": "",
            "b_mod/__manifest__.py": manifest("B"), "b_mod/__init__.py": "",
        }),
        # One module at the repository's root, in a repository whose name is no module name.
        "single": git_repository(root / "odoo-single", {
            "__manifest__.py": manifest("Single"), "__init__.py": "", "models/__init__.py": "",
        }),
        # One module whose repository is named like the module.
        "hello": git_repository(root / "saas_hello", {"__manifest__.py": manifest("Hello"), "__init__.py": ""}),
    }


def prepare(tmp_path, settings):
    (tmp_path / "playbook.yml").write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps({"odoo_image_build_dir": str(tmp_path / "context")} | settings))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{BIN}:{os.environ['PATH']}")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
                           "-e", f"@{tmp_path / 'vars.json'}", str(tmp_path / "playbook.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def recap_changed(output):
    return int(re.search(r"changed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


def instructions(dockerfile):
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def apply_addon_copies(context, root):
    """The Dockerfile's `COPY --chown=odoo:odoo addons/<dir>/ <dest>/` steps, applied as Docker does."""
    for line in instructions(context / "Dockerfile"):
        parts = line.split()
        if parts[0] == "COPY" and parts[2].startswith("addons/"):
            shutil.copytree(context / parts[2], root / parts[3].lstrip("/"), dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git"))


def addons_tree(root):
    base = root / "mnt" / "extra-addons"
    return sorted(str(path.relative_to(base)) for path in base.rglob("*") if path.is_file())


def test_a_repository_of_modules_and_one_module_repositories_land_as_modules(tmp_path, repositories):
    result = prepare(tmp_path, {"odoo_image_addons": [
        {"name": "multi-addons", "repo": repositories["multi"], "version": "main"},
        {"name": "odoo-single", "repo": repositories["single"], "version": "main", "module": "single_mod"},
        {"name": "saas_hello", "repo": repositories["hello"], "version": "main"},
    ]})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    apply_addon_copies(tmp_path / "context", tmp_path / "image")
    assert addons_tree(tmp_path / "image") == [
        "README.md",
        "a_mod/__init__.py", "a_mod/__manifest__.py",
        "b_mod/__init__.py", "b_mod/__manifest__.py",
        "saas_hello/__init__.py", "saas_hello/__manifest__.py",
        "single_mod/__init__.py", "single_mod/__manifest__.py", "single_mod/models/__init__.py",
    ]
    assert (tmp_path / "context" / ".dockerignore").read_text() == "**/.git\n"

    again = prepare(tmp_path, json.loads((tmp_path / "vars.json").read_text()))
    assert again.returncode == 0 and recap_changed(again.stdout) == 0, again.stdout[-4000:]


def test_a_one_module_repository_whose_name_is_no_module_name_is_refused_naming_the_field(tmp_path, repositories):
    result = prepare(tmp_path, {"odoo_image_addons": [
        {"name": "multi-addons", "repo": repositories["multi"], "version": "main"},
        {"name": "odoo-single", "repo": repositories["single"], "version": "main"},
    ]})
    assert result.returncode != 0
    assert "odoo_image_addons[1].module: the repository odoo-single is one Odoo module" in result.stdout
    assert not (tmp_path / "context" / "Dockerfile").exists()


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "../escape", "repo": "file:///nowhere", "version": "main"},
     "odoo_image_addons[0].name is '../escape': it names the repository's directory"),
    ({"name": "single", "repo": "file:///nowhere", "version": "main", "module": "single-mod"},
     "odoo_image_addons[0].module is 'single-mod': Odoo imports a module as odoo.addons.<module>"),
])
def test_a_wrong_addons_entry_is_refused_before_anything_is_touched(tmp_path, entry, message):
    result = prepare(tmp_path, {"odoo_image_addons": [entry]})
    assert result.returncode != 0
    assert message in result.stdout
    assert not (tmp_path / "context").exists()


def test_a_name_used_twice_is_refused(tmp_path):
    entry = {"name": "same", "repo": "file:///nowhere", "version": "main"}
    result = prepare(tmp_path, {"odoo_image_addons": [entry, entry]})
    assert result.returncode != 0
    assert "odoo_image_addons: each name may appear once" in result.stdout and "more than once: same." in result.stdout


def pip_of(version):
    """A virtualenv with pip <version>, made once (pip from PyPI through pip itself)."""
    venv = PIP_CACHE / version
    if not (venv / "bin" / "pip3").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"pip=={version}"], check=True)
    return venv / "bin" / "pip3"


@pytest.mark.parametrize("image", IMAGE_PIPS)
def test_the_pip_step_runs_with_the_pip_of_each_official_image(tmp_path, image):
    odoo_version, pip_version = IMAGE_PIPS[image]
    # A requirement the pip's environment already satisfies: nothing is downloaded.
    result = prepare(tmp_path, {"odoo_saas_odoo_version": odoo_version, "odoo_image_python_packages": ["pip"]})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    context = tmp_path / "context"
    [step] = [line for line in instructions(context / "Dockerfile") if line.startswith("RUN") and "pip3 install" in line]

    path = tmp_path / "image-bin"
    path.mkdir()
    (path / "pip3").symlink_to(pip_of(pip_version))
    command = step.removeprefix("RUN ").replace("/tmp/odoo-saas-requirements.txt", str(context / "requirements.txt"))
    run = subprocess.run([*IMAGE_SHELL, command], env=dict(os.environ, PATH=f"{path}:/usr/bin:/bin"),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    [install] = [line for line in run.stderr.splitlines() if line.startswith("+ pip3 install")]
    knows_flag = tuple(map(int, pip_version.split("."))) >= (23, 0, 1)
    assert ("--break-system-packages" in install) == knows_flag, install
