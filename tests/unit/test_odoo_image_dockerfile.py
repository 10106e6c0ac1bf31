"""roles/odoo_image's Dockerfile, rendered with Jinja2 and the role's defaults for the Odoo versions
whose official images stand on different distributions (odoo/docker: 16.0 FROM debian:bullseye-slim,
pip 20.3; 18.0 FROM ubuntu:noble, pip 24.0). tests/integration/test_odoo_image_context.py runs the
pip step against those pips and prepares real build contexts with ansible-playbook."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "odoo_image"
VERSIONS = ["16.0", "18.0"]


def role_defaults(odoo_version):
    values = {"odoo_saas_odoo_version": odoo_version}
    for key, value in yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()).items():
        values[key] = jinja2.Template(value).render(values) if isinstance(value, str) else value
    return values


def dockerfile(odoo_version, **settings):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    values = role_defaults(odoo_version) | {"ansible_managed": "managed", "odoo_image_single_module_repositories": []}
    return env.get_template("Dockerfile.j2").render(values | settings)


def instructions(text):
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pip_steps(text):
    return [line for line in instructions(text) if line.startswith("RUN") and "pip3 install" in line]


@pytest.mark.parametrize("odoo_version", VERSIONS)
def test_the_image_starts_from_the_official_image_of_the_version(odoo_version):
    assert instructions(dockerfile(odoo_version))[0] == f"FROM odoo:{odoo_version}"


@pytest.mark.parametrize("odoo_version", VERSIONS)
def test_break_system_packages_is_passed_only_when_the_image_pip_lists_it(odoo_version):
    [step] = pip_steps(dockerfile(odoo_version, odoo_image_python_packages=["phonenumbers==8.13.0"]))
    install = step[step.index("pip3 install"):]
    # Never unconditionally: the 16.0 image's pip 20.3 exits with "no such option".
    assert "--break-system-packages" not in install
    assert 'case "$(pip3 help install)" in *--break-system-packages*)' in step
    assert '"$pip_options --break-system-packages"' in step


@pytest.mark.parametrize("odoo_version", VERSIONS)
def test_no_pip_step_without_python_packages(odoo_version):
    assert pip_steps(dockerfile(odoo_version)) == []


@pytest.mark.parametrize("odoo_version", VERSIONS)
def test_the_image_runs_as_the_official_image_odoo_user(odoo_version):
    steps = instructions(dockerfile(odoo_version, odoo_image_apt_packages=["libxmlsec1"],
                                    odoo_image_python_packages=["xmlsec"],
                                    odoo_image_addons=[{"name": "oca-tools", "repo": "file:///r", "version": "main"}]))
    users = [line for line in steps if line.startswith("USER ")]
    assert users == ["USER root", "USER odoo"]
    # Nothing after the switch back runs or copies as root.
    after = steps[steps.index("USER odoo") + 1:]
    assert [line.split()[0] for line in after] == ["LABEL"]


def test_a_repository_of_modules_is_copied_into_the_addons_directory_and_one_module_into_its_own():
    addons = [{"name": "oca-tools", "repo": "file:///a", "version": "16.0"},
              {"name": "odoo-single", "repo": "file:///b", "version": "v1", "module": "single_mod"},
              {"name": "saas_hello", "repo": "file:///c", "version": "main"}]
    copies = [line for line in instructions(dockerfile("18.0", odoo_image_addons=addons,
                                                       odoo_image_single_module_repositories=["odoo-single", "saas_hello"]))
              if line.startswith("COPY") and "addons/" in line]
    assert copies == ["COPY --chown=odoo:odoo addons/oca-tools/ /mnt/extra-addons/",
                      "COPY --chown=odoo:odoo addons/odoo-single/ /mnt/extra-addons/single_mod/",
                      "COPY --chown=odoo:odoo addons/saas_hello/ /mnt/extra-addons/saas_hello/"]
