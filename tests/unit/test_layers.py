"""Unit tests of the settings layers' helpers (no Ansible run)."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.request.layers import parse_env_file, project_root


def test_parse_env_file_keeps_prefixed_keys_lowercased():
    overrides, ignored = parse_env_file(
        "# comment\n\nODOO_SAAS_BASE_DOMAIN=a.example\nexport ODOO_SAAS_X=\"quoted value\"\nPATH=/bin\n"
    )
    assert overrides == {"odoo_saas_base_domain": "a.example", "odoo_saas_x": "quoted value"}
    assert ignored == ["PATH"]


@pytest.mark.parametrize("line", ["no equals sign", "=value", "BAD KEY=1", "ODOO-SAAS=1"])
def test_parse_env_file_rejects_malformed_lines_naming_the_line(line):
    with pytest.raises(ValueError, match=r"my.env:2: expected KEY=VALUE"):
        parse_env_file(f"ODOO_SAAS_A=1\n{line}\n", "my.env")


def test_project_root_is_the_parent_of_inventories(tmp_path):
    (tmp_path / "inventories" / "dev").mkdir(parents=True)
    assert project_root(str(tmp_path / "inventories" / "dev")) == str(tmp_path)
    assert project_root(str(tmp_path / "elsewhere")) is None
