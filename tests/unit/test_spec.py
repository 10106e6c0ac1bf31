"""Tenant requests are validated before anything is touched; every refusal names its field."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import load_plans
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import build_spec

from .plans_fixture import platform, raw_plans


def test_a_valid_request_derives_every_name():
    spec = build_spec({"name": "acme-shop", "plan": "small", "domains": ["Shop.Acme.Example"]}, platform())
    assert spec.namespace == "tenant-acme-shop"
    assert spec.database == spec.role == "odoo_acme_shop"
    assert spec.hosts == ("acme-shop.127.0.0.1.nip.io", "shop.acme.example")
    assert spec.db_strategy == "shared"
    assert spec.image == "odoo:18.0"
    assert spec.websocket_port == 8069  # small plan: threaded mode


def test_auto_strategy_follows_the_plan_and_can_be_overridden():
    assert build_spec({"name": "big-co", "plan": "large"}, platform()).db_strategy == "dedicated"
    assert build_spec({"name": "big-co", "plan": "large", "db_strategy": "shared"}, platform()).db_strategy == "shared"
    assert build_spec({"name": "big-co", "plan": "medium"}, platform()).websocket_port == 8072


def test_existing_plan_is_used_when_the_request_names_none():
    assert build_spec({"name": "acme", "state": "suspended"}, platform(), existing_plan="medium").plan.name == "medium"


@pytest.mark.parametrize(("params", "field"), [
    ({"plan": "small"}, "name"),
    ({"name": "ac", "plan": "small"}, "name"),
    ({"name": "a" * 41, "plan": "small"}, "name"),
    ({"name": "Acme", "plan": "small"}, "name"),
    ({"name": "acme_shop", "plan": "small"}, "name"),
    ({"name": "acme--shop", "plan": "small"}, "name"),
    ({"name": "acme-", "plan": "small"}, "name"),
    ({"name": "1acme", "plan": "small"}, "name"),
    ({"name": "acme'; DROP DATABASE x; --", "plan": "small"}, "name"),
    ({"name": 'ac"me', "plan": "small"}, "name"),
    ({"name": "kube-system", "plan": "small"}, "name"),
    ({"name": "saas-system", "plan": "small"}, "name"),
    ({"name": "saas-dev", "plan": "small"}, "name"),
    ({"name": "default", "plan": "small"}, "name"),
    ({"name": "postgres-shared-7", "plan": "small"}, "name"),
    ({"name": "acme"}, "plan"),
    ({"name": "acme", "plan": "gold"}, "plan"),
    ({"name": "acme", "plan": "small", "db_strategy": "sharded"}, "db_strategy"),
    ({"name": "acme", "plan": "small", "state": "gone"}, "state"),
    ({"name": "acme", "plan": "small", "odoo_version": "12.0"}, "odoo_version"),
    ({"name": "acme", "plan": "small", "image": "odoo:18.0; rm -rf /"}, "image"),
    ({"name": "acme", "plan": "small", "domains": "shop.example.com"}, "domains"),
    ({"name": "acme", "plan": "small", "domains": ["*.example.com"]}, "domains[0]"),
    ({"name": "acme", "plan": "small", "domains": ["ok.example.com", "bad host"]}, "domains[1]"),
])
def test_bad_requests_name_the_field(params, field):
    with pytest.raises(SpecError) as refused:
        build_spec(params, platform())
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "äß€\u0000", max_size=70))
def test_any_accepted_name_is_a_dns_label_and_a_safe_identifier(name):
    try:
        naming.check_tenant_name(name)
    except SpecError as error:
        assert error.field == "name"
        return
    assert len(naming.namespace_for(name)) <= 63
    assert naming.NAME_PATTERN.match(name)
    database = naming.database_for(name)
    assert len(database.encode()) <= 63
    assert set(database) <= set(string.ascii_lowercase + string.digits + "_")


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,39}$", fullmatch=True))
def test_distinct_names_never_share_a_database(name):
    other = name.replace("-", "")
    if other != name and len(other) >= naming.MIN_LENGTH:
        assert naming.database_for(other) != naming.database_for(name)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda p: p["small"].update(db_strategy="cloud"), "plans.small.db_strategy"),
    (lambda p: p["small"].update(cpu="lots"), "plans.small.cpu"),
    (lambda p: p["small"].update(replicas=0), "plans.small.replicas"),
    (lambda p: p["small"].update(workers="many"), "plans.small.workers"),
    (lambda p: p["small"].pop("quota"), "plans.small.quota"),
    (lambda p: p["small"]["quota"].update(memory="8 GB"), "plans.small.quota.memory"),
    (lambda p: p["large"].update(postgresql_settings={"shared_buffers": "1GB; DROP"}), "plans.large.postgresql_settings.shared_buffers"),
])
def test_bad_plans_name_the_field(mutate, field):
    plans = raw_plans()
    mutate(plans)
    with pytest.raises(SpecError) as refused:
        load_plans(plans)
    assert refused.value.field == field


@pytest.mark.parametrize(("overrides", "field"), [
    ({"base_domain": "not a domain"}, "base_domain"),
    ({"platform_namespace": "Saas_System"}, "platform_namespace"),
    ({"shared_server_capacity": 0}, "shared_server_capacity"),
    ({"plans": {}}, "plans"),
])
def test_bad_platform_settings_name_the_field(overrides, field):
    with pytest.raises(SpecError) as refused:
        platform(**overrides)
    assert refused.value.field == field
