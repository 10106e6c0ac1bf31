"""The inventory check (odoo_saas.kit.platform_check, run by playbooks/validate.yml): the
modules' own argument spec and validation over an inventory's settings, every problem named
by its inventory variable, all reported at once, passwords never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import PLATFORM_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_check import run_platform_check

from .plans_fixture import raw_plans

REPO = Path(__file__).resolve().parents[2]
LEDGER_PASSWORD = "ledger-Secret-1"
ADMIN_PASSWORD = "admin-Secret-2"


def settings(**overrides):
    values = {
        "kubeconfig": "/etc/odoo-saas/kubeconfig", "environment": "dev", "base_domain": "saas.example.com",
        "platform_namespace": "saas-system", "plans": raw_plans(), "shared_server_capacity": 50,
        "ledger": {"host": "10.0.0.5", "port": 5432, "database": "saas_ledger", "user": "saas",
                   "password": LEDGER_PASSWORD},
        "shared_servers": [{"name": f"postgres-shared-{n}", "host": f"10.0.0.{n}", "port": 5432, "admin_user": "postgres",
                            "admin_password": ADMIN_PASSWORD} for n in (1, 2)],
    }
    values.update(overrides)
    return values


def params(scopes=("common", "platform"), count=2, **overrides):
    """The module's parameters as validate.yml passes them: what holds a password on its own."""
    values = settings(**overrides)
    return {"settings": {k: v for k, v in values.items() if k not in ("ledger", "shared_servers")},
            "ledger": values.get("ledger"), "shared_servers": values.get("shared_servers"),
            "scopes": list(scopes), "shared_server_count": count}


def check(scopes=("common", "platform"), count=2, **overrides):
    result, failure = run_platform_check(params(scopes, count, **overrides))
    assert result["changed"] is False
    if failure:
        assert LEDGER_PASSWORD not in failure and ADMIN_PASSWORD not in failure
    return failure


def test_a_good_inventory_passes_and_its_strings_are_converted_as_the_modules_convert_them():
    assert check() is None
    assert check(shared_server_capacity="50", count="2") is None


@pytest.mark.parametrize("overrides,named", [
    ({"environment": "production"}, "odoo_saas_environment: must be one of local, dev, staging, prod"),
    ({"environment": None}, "odoo_saas_environment"),
    ({"kubeconfig": ""}, "odoo_saas_kubeconfig"),
    ({"base_domain": "Not A Domain"}, "odoo_saas_base_domain"),
    ({"platform_namespace": "Saas_System"}, "odoo_saas_platform_namespace"),
    ({"shared_server_capacity": "lots"}, "odoo_saas_shared_server_capacity"),
    ({"shared_server_capacity": 0}, "odoo_saas_shared_server_capacity"),
    ({"cert_issuer": "Bad Issuer"}, "odoo_saas_cert_issuer"),
    ({"plans": {}}, "odoo_saas_plans"),
    ({"plans": {**raw_plans(), "tiny": {**raw_plans()["small"], "cpu": "lots"}}}, "odoo_saas_plans.tiny.cpu"),
    ({"deletion_protection": "maybe"}, "odoo_saas_deletion_protection"),
    ({"pod_cidr": "10.1.0.0/33"}, "odoo_saas_pod_cidr"),
])
def test_each_bad_setting_is_refused_naming_its_variable(overrides, named):
    failure = check(**overrides)
    assert failure and named in failure, failure
    assert "nothing was changed" in failure


def test_every_problem_is_reported_at_once_and_each_once():
    failure = check(environment="production", shared_server_capacity="lots",
                    plans={"small": {**raw_plans()["small"], "memory": "much"}})
    assert "3 problem(s)" in failure, failure
    assert failure.count("odoo_saas_shared_server_capacity") == 1
    assert "odoo_saas_environment" in failure and "odoo_saas_plans.small.memory" in failure


@pytest.mark.parametrize("count,servers,named", [
    (0, None, "odoo_saas_shared_server_count"),
    ("two", None, "odoo_saas_shared_server_count"),
    (3, None, "must list, in order, postgres-shared-1, postgres-shared-2, postgres-shared-3"),
    (2, "reversed", "must list, in order, postgres-shared-1, postgres-shared-2"),
    (2, "no password", "odoo_saas_shared_servers"),
])
def test_the_shared_servers_must_be_the_counted_ones_in_order(count, servers, named):
    listed = settings()["shared_servers"]
    if servers == "reversed":
        listed = listed[::-1]
    elif servers == "no password":
        listed = [{**server, "admin_password": None} for server in listed]
    failure = check(count=count, shared_servers=listed)
    assert failure and named in failure, failure


def test_the_ledger_needs_its_connection_settings():
    failure = check(ledger={"host": "10.0.0.5", "port": "x", "user": "saas", "password": LEDGER_PASSWORD})
    assert "1 problem(s): odoo_saas_ledger: argument 'port' is of type str found in 'ledger'" in failure, failure
    failure = check(shared_servers=[{**settings()["shared_servers"][0], "port": "x"}], count=1)
    assert "1 problem(s): odoo_saas_shared_servers: " in failure, failure
    failure = check(ledger={"host": "bad host!", "port": 5432, "user": "saas", "password": LEDGER_PASSWORD})
    assert "odoo_saas_ledger: host 'bad host!'" in failure, failure


def test_what_holds_a_password_is_refused_inside_settings():
    for key in ("ledger", "shared_servers", "api_key"):
        given = params()
        given["settings"][key] = settings().get(key, "token")
        result, failure = run_platform_check(given)
        assert failure.startswith(f"settings: must not hold {key}"), failure


def test_an_empty_password_is_reported_without_mangling_the_message():
    failure = check(ledger={"host": "10.0.0.5", "port": 5432, "user": "saas", "password": ""})
    assert "odoo_saas_ledger: " in failure and "*****" not in failure, failure


def test_the_common_scope_reads_no_connection_settings():
    """validate.yml leaves the ledger and the shared servers (and their passwords) out of it."""
    common = {key: value for key, value in settings().items() if key not in ("ledger", "shared_servers")}
    assert run_platform_check({"settings": common, "scopes": ["common"], "shared_server_count": 2}) == (
        {"changed": False, "checked": ["common"]}, None)


def test_a_plan_that_cannot_run_is_a_warning_not_a_refusal():
    plans = raw_plans()
    plans["small"] = {**plans["small"], "quota": {**plans["small"]["quota"], "pods": 1}, "replicas": 3}
    result, failure = run_platform_check(params(["common"], plans=plans))
    assert failure is None
    assert any(warning.startswith("odoo_saas_plans.small") for warning in result["warnings"]), result


def test_each_module_option_is_the_inventory_variable_of_the_same_name():
    """The messages' variable names are true: odoo_saas_module_defaults maps option x to odoo_saas_x."""
    defaults = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())["odoo_saas_module_defaults"]
    assert set(defaults) <= set(PLATFORM_ARGS)
    for option, template in defaults.items():
        assert re.match(r"\{\{ odoo_saas_" + option + r"\b", template), (option, template)
