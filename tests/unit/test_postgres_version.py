"""One PostgreSQL build for the whole platform: the dedicated servers (the modules' default
postgres_image), the shared servers and the ledger (the roles) all default to the same exact
image, which the inventories' odoo_saas_postgres_image sets."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.odoo_saas.kit.plugins.doc_fragments.platform import ModuleDocFragment
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import POSTGRES_IMAGE

REPO = Path(__file__).resolve().parents[2]
ROLE_IMAGES = (("postgres_shared", "postgres_shared_image"), ("saas_system", "saas_system_ledger_image"))


def _yaml(path):
    return yaml.safe_load((REPO / path).read_text())


def test_the_inventory_default_is_the_modules_default():
    assert _yaml("group_vars/all/platform.yml")["odoo_saas_postgres_image"] == POSTGRES_IMAGE
    assert yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]["postgres_image"]["default"] == POSTGRES_IMAGE


def test_the_roles_follow_the_platform_setting_and_fall_back_to_the_same_image():
    for role, variable in ROLE_IMAGES:
        default = _yaml(f"roles/{role}/defaults/main.yml")[variable]
        assert default == f"{{{{ odoo_saas_postgres_image | default('{POSTGRES_IMAGE}') }}}}", role
        spec = _yaml(f"roles/{role}/meta/argument_specs.yml")["argument_specs"]["main"]["options"][variable]
        assert spec["default"] == POSTGRES_IMAGE, role
