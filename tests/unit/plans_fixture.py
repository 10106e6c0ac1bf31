"""The plans and platform settings of the repository's base group_vars, for unit tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import load_platform

REPO = Path(__file__).resolve().parents[2]


def raw_plans():
    return yaml.safe_load((REPO / "group_vars" / "all" / "plans.yml").read_text())["odoo_saas_plans"]


def platform(**overrides):
    params = {"environment": "local", "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
              "plans": raw_plans()}
    params.update(overrides)
    return load_platform(params)
