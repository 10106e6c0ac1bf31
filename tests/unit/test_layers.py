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


def test_parse_env_file_follows_dotenvs_grammar():
    overrides, _ignored = parse_env_file(
        "ODOO_SAAS_A=plain # a comment\nODOO_SAAS_B='single # kept'\nODOO_SAAS_C=\"line\\nbreak\"\n"
        "ODOO_SAAS_D=\n")
    assert overrides == {"odoo_saas_a": "plain", "odoo_saas_b": "single # kept", "odoo_saas_c": "line\nbreak",
                         "odoo_saas_d": ""}


def test_a_malformed_line_after_blank_lines_and_comments_is_named_by_its_own_number():
    with pytest.raises(ValueError, match=r"my.env:5: expected KEY=VALUE, got 'KEYONLY'"):
        parse_env_file("# settings\n\nODOO_SAAS_A=1\n\nKEYONLY\n", "my.env")
