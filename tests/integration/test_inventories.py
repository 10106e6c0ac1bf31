"""Settings are layered: base group_vars/ < inventories/<env>/group_vars < .env overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def host_vars(inventory: str, host: str, env_file: Path | None = None) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    env.pop("ODOO_SAAS_ENV_FILE", None)
    if env_file is not None:
        env["ODOO_SAAS_ENV_FILE"] = str(env_file)
    else:
        env["ODOO_SAAS_ENV_FILE"] = str(REPO / ".env-absent-in-tests")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", f"inventories/{inventory}", "--host", host],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(("inventory", "host", "namespace", "protected"), [
    ("local", "localhost", "saas-dev", False),
    ("dev", "dev-1", "saas-dev", False),
    ("staging", "staging-1", "saas-system", False),
    ("prod", "prod-1", "saas-system", True),
])
def test_each_environment_overrides_the_base(inventory, host, namespace, protected):
    values = host_vars(inventory, host)
    assert values["odoo_saas_environment"] == inventory  # base says "unset"
    assert values["odoo_saas_platform_namespace"] == namespace
    assert values["odoo_saas_deletion_protection"] is protected
    # Set only in the base layer, so every environment inherits it.
    assert values["odoo_saas_shared_server_capacity"] == 50
    assert set(values["odoo_saas_plans"]) >= {"small", "medium", "large"}


def test_base_domains_differ_per_environment():
    domains = {env: host_vars(env, host)["odoo_saas_base_domain"]
               for env, host in [("local", "localhost"), ("dev", "dev-1"), ("staging", "staging-1"), ("prod", "prod-1")]}
    assert len(set(domains.values())) == 4
    assert domains["dev"].endswith((".nip.io", ".sslip.io"))


def test_dotenv_overrides_environment_and_base(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# this machine\n"
        "ODOO_SAAS_BASE_DOMAIN=me.127.0.0.1.nip.io\n"  # set by base and environment
        "export ODOO_SAAS_SHARED_SERVER_CAPACITY=7\n"  # set by base only
        "ODOO_SAAS_DELETION_PROTECTION='false'\n"  # prod sets true
        "UNRELATED=1\n"
    )
    values = host_vars("prod", "prod-1", env_file)
    assert values["odoo_saas_base_domain"] == "me.127.0.0.1.nip.io"
    assert values["odoo_saas_shared_server_capacity"] == 7
    assert values["odoo_saas_deletion_protection"] is False
    assert "unrelated" not in values
    assert values["odoo_saas_environment"] == "prod"  # untouched layers still apply


def test_malformed_dotenv_is_refused_with_its_line(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("ODOO_SAAS_OK=1\nthis line is wrong\n")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        host_vars("local", "localhost", env_file)
    assert ".env:2" in failed.value.stderr
