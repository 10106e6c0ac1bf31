"""The execution environment's build context (issue 15): `ansible-builder create` on
execution-environment.yml writes the Containerfile and _build/ without a container engine;
what it holds is what AWX's jobs need: the collections of collections/requirements.yml, the
Python packages of requirements.txt, the system packages of bindep.txt, ansible-core 2.19 and
ansible-runner on Python 3.11, PostgreSQL 16's client stream and the pinned, checked helm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    target = tmp_path_factory.mktemp("ee-context")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-builder"), "create", "-f",
                             str(REPO / "execution-environment.yml"), "--context", str(target), "--output-filename",
                             "Containerfile"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return target


def _requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_the_collections_are_those_of_the_requirements(context):
    built = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    wanted = yaml.safe_load((REPO / "collections" / "requirements.yml").read_text())
    assert built["collections"] == wanted["collections"]
    assert {c["name"] for c in built["collections"]} == {"kubernetes.core", "community.postgresql"}


def test_the_python_and_system_packages_are_the_projects(context):
    assert _requirement_lines(context / "_build" / "requirements.txt") == _requirement_lines(REPO / "requirements.txt")
    assert _requirement_lines(context / "_build" / "bindep.txt") == _requirement_lines(REPO / "bindep.txt")
    assert "postgresql-client [platform:dpkg]" in _requirement_lines(context / "_build" / "bindep.txt")


def test_the_containerfile_builds_on_python_3_11_with_ansible_core_2_19_runner_pg16_and_checked_helm(context):
    text = (context / "Containerfile").read_text()
    assert "quay.io/centos/centos:stream9" in text
    assert "python3.11" in text and "ansible-core>=2.19,<2.20" in text and "ansible-runner>=2.4,<3" in text
    assert "module enable postgresql:16" in text
    assert text.index("module enable postgresql:16") < text.index("assemble"), "the PostgreSQL 16 stream comes before bindep"
    assert "sha256sum -c" in text and "install -m 0755 linux-amd64/helm /usr/local/bin/helm" in text
    assert "ansible-galaxy" in text and "requirements.yml" in text
