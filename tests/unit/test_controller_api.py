"""The controller's request checks, the tenant parameters an operation runs with, its
settings switches, and that the OpenAPI document and the app's routes are the same set."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from ansible_collections.odoo_saas.kit.controller import dashboard, settings as controller_settings
from ansible_collections.odoo_saas.kit.controller.app import OPENAPI, create_app
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.ledger import TenantRecord
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.operation_queue import Operation
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.api_requests import (
    RequestProblems, check_request, module_params)

from .plans_fixture import platform, raw_plans

CONFIG = {"environment": "local", "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
          "plans": raw_plans()}


def _problems(kind, name, body):
    with pytest.raises(RequestProblems) as caught:
        check_request(kind, name, body, CONFIG, platform())
    return dict(caught.value.problems)


def test_every_bad_field_is_named_at_once():
    body = {"plan": 3, "domains": ["ok.example.com", 5], "colour": "red", "db_strategy": "sideways"}
    problems = _problems("create", "Bad_Name", body)
    assert set(problems) == {"name", "plan", "domains[1]", "colour", "db_strategy"}
    assert "allowed: name, plan" in problems["colour"]
    assert "auto, shared, dedicated" in problems["db_strategy"]


def test_the_cores_own_checks_run_too():
    # The core's checks (check_tenant_params), not a copy: an unknown plan and a bad domain.
    assert "unknown plan" in _problems("create", "acme", {"plan": "platinum"})["plan"]
    assert set(_problems("change", "acme", {"domains": ["not a host"]})) == {"domains[0]"}
    assert "must equal" in _problems("delete", "acme", {"confirm": "other"})["confirm"]
    assert set(_problems("suspend", "acme", {"plan": "small"})) == {"plan"}
    assert check_request("create", "acme", {"name": "acme", "plan": "small", "external_ref": "sub_1"}, CONFIG,
                         platform()) == {"name": "acme", "plan": "small", "external_ref": "sub_1"}


def _operation(kind, arguments):
    return Operation(id="op-1", seq=1, kind=kind, tenant="acme", arguments=arguments, state="running", actor="t",
                     idempotency_key=None, attempts=1, steps=[], result=None, error=None, created_at=None,
                     started_at=None, finished_at=None)


RECORD = TenantRecord(name="acme", state="active", plan="medium", db_strategy="shared", server="postgres-shared-1",
                      namespace="tenant-acme", database="odoo_acme", odoo_version="17.0",
                      hosts=("acme.127.0.0.1.nip.io", "erp.acme.example"))


def test_an_operation_keeps_what_its_request_did_not_name():
    suspend = module_params(CONFIG, _operation("suspend", {}), RECORD, image="localhost:32000/odoo:17-custom")
    assert (suspend["state"], suspend["plan"], suspend["domains"], suspend["odoo_version"], suspend["image"]) == (
        "suspended", "medium", ["erp.acme.example"], "17.0", "localhost:32000/odoo:17-custom")
    change = module_params(CONFIG, _operation("change", {"plan": "large"}), RECORD)
    assert (change["plan"], change["domains"]) == ("large", ["erp.acme.example"])
    delete = module_params(CONFIG, _operation("delete", {"confirm": "acme", "backup": False}), RECORD)
    assert (delete["state"], delete["confirm"], delete["backup"]) == ("absent", "acme", False)
    create = module_params(CONFIG, _operation("create", {"name": "acme", "plan": "small", "external_ref": "x"}), None)
    assert create["plan"] == "small" and "external_ref" not in create


def test_flask_env_selects_the_namespace_and_refuses_prod(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({key: value for key, value in CONFIG.items() if key != "platform_namespace"}))
    development = controller_settings.load({"SAAS_CONTROLLER_CONFIG": str(path), "FLASK_ENV": "development"})
    production = controller_settings.load({"SAAS_CONTROLLER_CONFIG": str(path), "DOMAIN_NAME": "saas.example.com"})
    assert development.platform.platform_namespace == "saas-dev"
    assert (production.platform.platform_namespace, production.platform.base_domain) == ("saas-system", "saas.example.com")
    path.write_text(json.dumps({**CONFIG, "environment": "prod"}))
    with pytest.raises(SpecError, match="FLASK_ENV"):
        controller_settings.load({"SAAS_CONTROLLER_CONFIG": str(path), "FLASK_ENV": "development"})
    with pytest.raises(SpecError, match="SAAS_CONTROLLER_WORKERS"):
        controller_settings.load({"SAAS_CONTROLLER_CONFIG": str(path), "SAAS_CONTROLLER_WORKERS": "0"})
    with pytest.raises(SpecError, match="SAAS_CONTROLLER_CONFIG"):
        controller_settings.load({})


def test_the_openapi_document_lists_exactly_the_apps_routes():
    app = create_app(controller_settings.Settings(CONFIG, platform(), 1, True), pool=None)
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.endpoint in dashboard.ENDPOINTS:  # the dashboard's page and files: HTML for a browser, not API
            continue
        path = re.sub(r"<([a-z_]+)>", r"{\1}", rule.rule.replace("<operation_id>", "<id>").replace("<webhook_id>", "<id>"))
        served.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    document = yaml.safe_load(OPENAPI.read_text())
    documented = {(path, method) for path, item in document["paths"].items() for method in item if method != "parameters"}
    assert served == documented


def test_webhook_signatures_backoff_and_events():
    from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import webhooks
    header = webhooks.sign("s3cret", 1700000000, b'{"a": 1}')
    assert webhooks.verify("s3cret", header, b'{"a": 1}', 1700000100)
    assert not webhooks.verify("other", header, b'{"a": 1}', 1700000100)
    assert not webhooks.verify("s3cret", header, b'{"a": 1}', 1700000000 + 301)  # too old: a replay
    assert not webhooks.verify("s3cret", "garbage", b"", 1700000000)
    assert [webhooks.backoff(n, 10) for n in (1, 2, 3, 12)] == [10, 20, 40, 3600]
    assert webhooks.events_of("create", "succeeded", "active") == ["operation.succeeded", "tenant.created", "tenant.active"]
    assert webhooks.events_of("backup", "failed", "active") == ["backup.failed", "operation.failed"]
    assert webhooks.events_of("delete", "succeeded", "deleted") == ["operation.succeeded", "tenant.deleted"]
    assert {field for field, _message in webhooks.subscription_problems("ftp://x", ["nope"])} == {"url", "events"}


def test_a_restore_names_its_source_problem():
    assert set(_problems("restore", "acme", {})) == {"backup, odoo_export"}
    assert set(_problems("restore", "acme", {"backup": "../x"})) == {"backup"}
    assert check_request("restore", "acme", {"backup": "20261203-101010-manual-abcdef"}, CONFIG, platform()) == {
        "backup": "20261203-101010-manual-abcdef"}


def test_the_dashboards_health_comes_from_the_ledger_state_and_the_last_backup():
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.backup_records import BackupRecord

    now = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
    active = replace(RECORD, created_at=now - timedelta(days=3))
    backup = BackupRecord(tenant="acme", id="20261203T020000Z-scheduled", kind="scheduled", state="complete", target="dir",
                          started_at=now - timedelta(hours=10))
    old = replace(backup, started_at=now - timedelta(hours=30))
    assert dashboard.health(active, backup, None, now)["status"] == "ok"
    assert dashboard.health(active, old, None, now) == {"status": "stale", "detail": f"newest complete backup {old.id} is 30 hours old"}
    assert dashboard.health(active, None, None, now)["detail"] == "no complete backup in the 72 hours since it was created"
    fresh = replace(active, created_at=now - timedelta(hours=1))
    assert dashboard.health(fresh, None, None, now)["status"] == "ok"
    assert dashboard.health(active, old, ("change", "op-1"), now)["status"] == "failed"
    for state, status in (("suspended", "suspended"), ("provisioning", "busy"), ("deleting", "busy"), ("deleted", "deleted")):
        assert dashboard.health(replace(active, state=state), old, None, now)["status"] == status


def test_the_dashboard_is_served_with_a_policy_that_keeps_it_to_this_controller():
    client = create_app(controller_settings.Settings(CONFIG, platform(), 1, True), pool=None).test_client()
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.mimetype == "text/html" and b'src="dashboard/dashboard.js"' in page.data
    assert "default-src 'none'" in page.headers["Content-Security-Policy"] and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get("/dashboard/dashboard.js").mimetype in ("text/javascript", "application/javascript")
    for missing in ("/dashboard/settings.py", "/dashboard/..%2fapp.py", "/dashboard/nothing.js"):
        answer = client.get(missing)
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json", missing


def test_an_undelete_runs_with_what_the_ledger_recorded_of_the_removed_tenant():
    from dataclasses import replace
    removed = replace(RECORD, state="deleted")
    params = module_params(CONFIG, _operation("undelete", {}), removed)
    assert (params["state"], params["plan"], params["domains"], params["odoo_version"]) == (
        "present", "medium", ["erp.acme.example"], "17.0")
    assert module_params(CONFIG, _operation("resume", {}), removed)["plan"] is None  # others do not revive it
    assert set(_problems("undelete", "acme", {"backup": "nope"})) == {"backup"}
    assert module_params(CONFIG, _operation("undelete", {}), removed)["backup"] is None  # an id, not delete's flag
