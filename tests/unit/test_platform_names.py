"""The names the roles and the modules must agree on have their source in the core, and every
copy the roles and the inventories carry (defaults, argument specs) equals it: the tenant
namespace prefix, the tenant ClusterRole, the automation's RoleBinding and account."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import PLATFORM_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.isolation import (
    AUTOMATION_BINDING, TENANT_CLUSTER_ROLE,
)
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.naming import NAMESPACE_PREFIX
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import load_platform

from .plans_fixture import raw_plans

REPO = Path(__file__).resolve().parents[2]


def yaml_file(*parts):
    return yaml.safe_load((REPO.joinpath(*parts)).read_text())


def role_option(role, option):
    return yaml_file("roles", role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"][option]["default"]


def test_the_tenant_namespace_prefix_and_cluster_role_are_the_cores():
    defaults = yaml_file("roles", "saas_system", "defaults", "main.yml")
    assert defaults["saas_system_tenant_namespace_prefix"] == NAMESPACE_PREFIX
    assert role_option("saas_system", "saas_system_tenant_namespace_prefix") == NAMESPACE_PREFIX
    assert defaults["saas_system_tenant_role_name"] == TENANT_CLUSTER_ROLE
    assert role_option("saas_system", "saas_system_tenant_role_name") == TENANT_CLUSTER_ROLE


def test_the_automation_account_has_one_default():
    account = PLATFORM_ARGS["automation_account"]["default"]
    assert load_platform({"base_domain": "saas.example.com", "plans": raw_plans()}).automation_account == account
    assert yaml_file("group_vars", "all", "platform.yml")["odoo_saas_automation_account"] == account
    fallback = re.compile(r"odoo_saas_automation_account \| default\('([^']+)'\)")
    for role, option in (("saas_system", "saas_system_automation_name"),
                         ("postgres_shared", "postgres_shared_automation_account")):
        assert fallback.search(role_option(role, option)).group(1) == account, (role, option)
    # The RoleBinding the tenant module writes in each tenant namespace carries the account's default name.
    assert AUTOMATION_BINDING == account
