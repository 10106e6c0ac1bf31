"""Bad input, generated: hundreds of broken tenant requests, platform settings, plans and
connection settings through run_tenant. Every one is refused with a message that names the
broken option and says what is allowed; none raises, and none gets as far as connecting."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.front import tenant as tenant_front
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError, shown
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import build_spec

from . import bad_input_strategies as bad
from .plans_fixture import platform, raw_plans

LEDGER_PASSWORD = "ledger-Pa55word-unit"
SERVER_PASSWORDS = ("shared-1-Pa55word-unit", "shared-2-Pa55word-unit")


def valid_params(**overrides):
    """A request the core accepts, as the tenant module passes it (no cluster needed)."""
    values = {
        "kubeconfig": "/nonexistent/kubeconfig",
        "ledger": {"host": "127.0.0.1", "port": 15432, "database": "saas_ledger", "user": "postgres",
                   "password": LEDGER_PASSWORD, "sslmode": "prefer"},
        "shared_servers": [
            {"name": f"postgres-shared-{index + 1}", "host": "127.0.0.1", "port": 15433 + index, "admin_user": "postgres",
             "admin_password": password, "sslmode": "prefer", "cluster_host": None, "cluster_port": 5432}
            for index, password in enumerate(SERVER_PASSWORDS)],
        "environment": "local", "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
        "plans": raw_plans(), "ingress_class": "traefik", "ingress_namespace": "traefik", "cert_issuer": "selfsigned",
        "storage_class": "microk8s-hostpath", "shared_server_capacity": 50, "backup_dir": "/var/backups/odoo-saas",
        "deletion_protection": False, "name": "acme", "state": "present", "plan": "small", "db_strategy": "auto",
        "domains": ["shop.acme.example"], "odoo_version": "18.0", "image": None, "confirm": None, "backup": True,
        "wait": True, "wait_timeout": 600,
    }
    values.update(overrides)
    return values


class Connected(Exception):
    """Raised by the fake boundary: the run got as far as opening connections."""


@pytest.fixture(autouse=True)
def no_connections(monkeypatch):
    def refuse(*args, **kwargs):
        raise Connected("run_tenant opened a connection")
    monkeypatch.setattr(Kube, "connect", refuse)
    monkeypatch.setattr(pg, "connect", refuse)


def refusal_of(params, check_mode=False):
    """run_tenant's failure for params; fails the test on an exception or a connection attempt."""
    result, failure = tenant_front.run_tenant(params, check_mode)
    assert failure, "bad input was accepted"
    assert result["actions"] == [] and result["changed"] is False and "api_requests" not in result
    return failure


def assert_clear(failure, fields):
    bad.assert_clear(failure, fields, (LEDGER_PASSWORD,) + SERVER_PASSWORDS)


def test_the_valid_request_gets_as_far_as_connecting():
    with pytest.raises(Connected):
        tenant_front.run_tenant(valid_params(), False)
    with pytest.raises(Connected):
        tenant_front.run_tenant(valid_params(state="absent", confirm="acme"), False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chosen=bad.corruptions(max_size=1), check_mode=st.booleans())
def test_one_broken_option_is_refused_naming_it(chosen, check_mode):
    failure = refusal_of(bad.corrupted(valid_params(), chosen), check_mode)
    assert_clear(failure, [c.field for c in chosen])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chosen=bad.corruptions(max_size=4))
def test_several_broken_options_are_refused_naming_one_of_them(chosen):
    failure = refusal_of(bad.corrupted(valid_params(), chosen))
    assert_clear(failure, [c.field for c in chosen])


@settings(max_examples=100, deadline=None)
@given(chosen=st.one_of(bad.bad_name(), bad.bad_platform_setting(), bad.bad_plans(), bad.bad_connection()))
def test_removal_refuses_the_same_input(chosen):
    failure = refusal_of(bad.corrupted(valid_params(state="absent", confirm="acme"), [chosen]))
    assert_clear(failure, [chosen.field])


@settings(max_examples=100, deadline=None)
@given(chosen=bad.corruption())
def test_build_spec_and_load_platform_raise_only_spec_errors(chosen):
    params = bad.corrupted(valid_params(), [chosen])
    try:
        build_spec(params, platform(**{key: params[key] for key in (
            "environment", "base_domain", "platform_namespace", "plans", "ingress_class", "ingress_namespace",
            "cert_issuer", "storage_class", "shared_server_capacity", "backup_dir")}))
    except SpecError as error:
        assert str(error) == f"{error.field}: {error.message}"


@pytest.mark.parametrize(("overrides", "field"), [
    # A trailing newline passed every `^...$` pattern (Python's `$` matches before a final "\n");
    # "acme\n" would have reached the ledger and the API server as a tenant name.
    ({"name": "acme\n"}, "name"),
    ({"image": "odoo:18.0\n"}, "image"),
    ({"platform_namespace": "saas-dev\n"}, "platform_namespace"),
    # Unhashable and non-text values raised TypeError or AttributeError instead of a refusal.
    ({"plan": ["small"]}, "plan"),
    ({"image": 18}, "image"),
    ({"platform_namespace": 5}, "platform_namespace"),
    ({"backup_dir": 5}, "backup_dir"),
    ({"shared_servers": 3}, "shared_servers"),
    ({"ledger": {"host": "127.0.0.1", "port": "abc", "user": "postgres", "password": "x"}}, "ledger"),
    # Settings that went unchecked into manifests or connections.
    ({"ingress_namespace": "x'; DROP ROLE postgres; --"}, "ingress_namespace"),
    ({"storage_class": "../hostpath"}, "storage_class"),
    ({"backup_dir": "../backups"}, "backup_dir"),
    ({"wait_timeout": -5}, "wait_timeout"),
    ({"image": "odoo/../etc:1"}, "image"),
])
def test_inputs_that_once_slipped_through(overrides, field):
    assert_clear(refusal_of(valid_params(**overrides)), [field])


def test_plan_fields_once_slipped_through():
    plans = raw_plans()
    plans["small"]["replica"] = 3  # a typo: the plan silently kept one replica
    assert_clear(refusal_of(valid_params(plans=plans)), ["plans.small"])
    plans = raw_plans()
    plans["large"]["db_resources"] = "2 cores"  # raised AttributeError
    assert_clear(refusal_of(valid_params(plans=plans)), ["plans.large.db_resources"])
    plans = raw_plans()
    plans["small"]["replicas"] = "1_0"  # int() reads it as 10
    assert_clear(refusal_of(valid_params(plans=plans)), ["plans.small.replicas"])


def test_long_values_are_shown_cut_short():
    assert len(shown("a" * 100_000)) < 100
    failure = refusal_of(valid_params(name="a" * 100_000))
    assert failure.startswith("name: 'aaaa") and "(100000 characters)" in failure


def test_valid_images_and_connection_settings_stay_accepted():
    for image in ("odoo:18.0", "localhost:32000/odoo:18.0-custom", "registry.example.com/team/odoo_custom:19.0",
                  "odoo@sha256:" + "a" * 64, "odoo:17.0-20250101"):
        assert build_spec({"name": "acme", "plan": "small", "image": image}, platform()).image == image
    with pytest.raises(Connected):
        tenant_front.run_tenant(valid_params(ledger={"host": "/var/run/postgresql", "port": "5432", "user": "postgres",
                                                     "password": "x", "database": "saas_ledger"}), False)
