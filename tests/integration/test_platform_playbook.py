"""playbooks/platform.yml against the local platform: it converges, a second run and a check-mode
run report no changes (the done-when of issue 4). The platform roles themselves run in the
molecule scenarios under extensions/molecule/."""

from __future__ import annotations

import re

import pytest

from .test_playbooks import playbook, recap_changed

pytestmark = pytest.mark.alone  # see tests/conftest.py


def recap_failed(output):
    return int(re.search(r"failed=(\d+)", output.split("PLAY RECAP")[-1]).group(1))


def test_platform_converges_and_a_second_run_changes_nothing():
    first = playbook("platform.yml")
    assert recap_failed(first.stdout) == 0
    second = playbook("platform.yml")
    assert recap_changed(second.stdout) == 0, second.stdout[-3000:]
    checked = playbook("platform.yml", "--check", "--diff")
    assert recap_changed(checked.stdout) == 0, checked.stdout[-3000:]
