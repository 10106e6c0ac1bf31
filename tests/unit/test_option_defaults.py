"""The platform options' defaults have one meaning: the core (spec.load_platform, used by every
front end, including those without Ansible's argument spec) reads an option left out exactly as
the modules' argument spec fills it in. The doc fragment is held to the argument spec by
ansible-test's validate-modules."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import PLATFORM_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import build_spec, load_platform
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_args import TENANT_ARGS

from .plans_fixture import raw_plans

REQUIRED = {"base_domain": "saas.example.com", "plans": raw_plans()}
# Read by connections.py (the Kubernetes and PostgreSQL connections), not by the Platform.
CONNECTION_OPTIONS = {"kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert",
                      "client_key", "ledger", "shared_servers"}
PLATFORM_DEFAULTS = {
    name: option["default"] for name, option in PLATFORM_ARGS.items()
    if "default" in option and name not in CONNECTION_OPTIONS
}


def test_there_are_defaults_to_compare():
    assert {"environment", "platform_namespace", "shared_server_capacity", "postgres_image"} <= set(PLATFORM_DEFAULTS)


@pytest.mark.parametrize("name", sorted(PLATFORM_DEFAULTS))
def test_an_option_left_out_means_its_argument_spec_default(name):
    assert load_platform(REQUIRED) == load_platform({**REQUIRED, name: PLATFORM_DEFAULTS[name]}), name


def test_the_core_defaults_a_tenants_options_as_the_argument_spec_does():
    platform = load_platform(REQUIRED)
    left_out = build_spec({"name": "acme", "plan": "small"}, platform)
    defaults = {name: TENANT_ARGS[name]["default"] for name in ("db_strategy", "state")}
    given = build_spec({"name": "acme", "plan": "small", **defaults}, platform)
    assert left_out == given
