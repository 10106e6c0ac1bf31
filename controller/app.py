"""The SaaS controller's HTTP API (Flask, JSON). Every change is queued as an operation in
the ledger and run by the workers (front/api_worker.py) with the tenant module's core; the
handlers only authenticate, check the request (front/api_requests.py) and read the ledger.

Scopes: `admin` everything; `reseller` the tenants it created, and creating new ones; `read`
reading only. A tenant a reseller does not own answers 403 whether it exists or not."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from flask import Flask, g, jsonify, request
from psycopg_pool import ConnectionPool
from werkzeug.exceptions import HTTPException

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import api_tokens, ledger, operation_queue, webhooks
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.connections import ledger_connection
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import ConflictError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.api_requests import RequestProblems, check_request
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import tenant_result
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import run_tenant_backups
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.naming import check_tenant_name

from . import dashboard, problems
from .problems import Problem

OPENAPI = Path(__file__).with_name("openapi.yaml")
MAX_PAGE = 200
IDEMPOTENCY_KEY_MAX = 200
log = logging.getLogger("saas-controller")


def ledger_pool(config, size=4):
    where = ledger_connection(config)
    return ConnectionPool(kwargs=dict(host=where.host, port=where.port, user=where.user, password=where.password,
                                      dbname=where.dbname, sslmode=where.sslmode, connect_timeout=where.connect_timeout,
                                      application_name="odoo-saas-controller", autocommit=True),
                          min_size=1, max_size=size, open=True,
                          check=ConnectionPool.check_connection)  # a ledger restart costs no request a 500


def create_app(settings, pool):
    app = Flask("saas-controller", static_folder=None)  # no static route: the dashboard serves its own files
    app.json.sort_keys = False
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))

    @app.before_request
    def refuse_nul():
        # PostgreSQL text cannot hold NUL: refused here as bad input, not as the database's error.
        if "\x00" in request.path or any("\x00" in key + value for key, value in request.args.items(multi=True)):
            raise problems.bad_request([("url", "must not contain a NUL character")])

    @app.errorhandler(Problem)
    def on_problem(error):
        return error.response()

    @app.errorhandler(HTTPException)
    def on_http(error):
        return Problem(error.code, error.name, error.description).response()

    @app.errorhandler(Exception)
    def on_error(error):
        log.error("%s %s failed: %s", request.method, request.path, type(error).__name__)
        return Problem(500, "Internal error", "the controller failed on this request; it was logged without "
                                              "its secrets: retry, and tell the operator if it persists").response()

    def conn():
        if "conn" not in g:
            g.conn_context = pool.connection()
            g.conn = g.conn_context.__enter__()
        return g.conn

    @app.teardown_request
    def release(_error):
        context = g.pop("conn_context", None)
        if context is not None:
            context.__exit__(None, None, None)

    def token(write=False, admin=False):
        header = request.headers.get("Authorization", "")
        scheme, _space, text = header.partition(" ")
        found = api_tokens.authenticate(conn(), text.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise problems.unauthorized()
        if admin and found.scope != "admin":
            raise problems.forbidden("this (admin only)")
        if write and not found.writes:
            raise problems.forbidden("changes (it is read only)")
        return found

    def visible_tenant(found, name):
        """Raises unless `found` may see tenant `name` (checked before its existence)."""
        if found.scope == "reseller" and api_tokens.owner_of(conn(), name) != found.id:
            raise problems.forbidden(f"tenant {name!r}")

    def page_args():
        try:
            limit = int(request.args.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_PAGE:
            raise problems.bad_request([("limit", f"must be a whole number from 1 to {MAX_PAGE}")])
        return limit

    def accepted(operation, created):
        body = operation.as_dict()
        response = jsonify(body)
        response.status_code = 202 if created else 200
        response.headers["Location"] = f"/v1/operations/{operation.id}"
        return response

    def enqueue(found, kind, name, body):
        try:
            arguments = check_request(kind, name, body, settings.config, settings.platform)
        except RequestProblems as error:
            raise problems.bad_request(error.problems) from None
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
            raise problems.bad_request([("Idempotency-Key", f"must be 1-{IDEMPOTENCY_KEY_MAX} characters")])

        def claim(tx):
            # After the Idempotency-Key's lookup: a retry of a create that has since made the
            # tenant (or of a delete that removed it) gets its operation back, not a 409 or 404.
            record = ledger.get_tenant(tx, name)
            living = record is not None and record.state != "deleted"
            if kind == "create" and living:
                raise problems.conflict(f"tenant {name!r} exists: change it with PATCH /v1/tenants/{name}")
            if kind == "undelete":
                if record is None:
                    raise problems.not_found(f"tenant {name!r}")
                if living:
                    raise problems.conflict(f"tenant {name!r} is {record.state}: only a removed tenant is undeleted; "
                                            f"restore a living one with POST /v1/tenants/{name}/restore")
            elif kind != "create" and not living:
                raise problems.not_found(f"tenant {name!r}")
            if kind == "create":
                if operation_queue.waiting(tx, name, "create"):
                    raise problems.conflict(f"tenant {name!r} is being created by an earlier request: follow its operation "
                                            f"(GET /v1/operations?tenant={name})")
                owner = api_tokens.owner_of(tx, name)
                if found.scope == "reseller":
                    # A name the ledger knows (living or removed, its backups kept) is its owner's alone.
                    if (record is not None and owner is None) or owner not in (None, found.id):
                        raise problems.forbidden(f"tenant {name!r}")
                    api_tokens.claim_tenant(tx, name, found.id)
                elif owner is not None:
                    api_tokens.release_tenant(tx, name)  # an admin's new tenant of that name is no reseller's

        try:
            operation, created = operation_queue.enqueue(conn(), kind, name, arguments, found.id, key, before_insert=claim)
        except ConflictError as error:
            raise problems.conflict(str(error)) from None
        return accepted(operation, created)

    def existing(name):
        record = ledger.get_tenant(conn(), name)
        if record is None or record.state == "deleted":
            raise problems.not_found(f"tenant {name!r}")
        return record

    def json_body():
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            body = None
        if body is None:
            raise problems.bad_request([("body", "must be a JSON object (Content-Type: application/json)")])
        return body

    def checked_name(name):
        try:
            return check_tenant_name(name)
        except Exception as error:  # noqa: BLE001 - a SpecError names what is allowed
            raise problems.bad_request([("name", getattr(error, "message", str(error)))]) from None

    @app.get("/healthz")
    def health():
        conn().execute("SELECT 1")
        return {"status": "ok"}

    @app.get("/openapi.json")
    def openapi():
        return spec

    @app.get("/v1/tenants")
    def tenants_list():
        found = token()
        limit = page_args()
        after = request.args.get("after", "")
        filters = {key: request.args[key] for key in ("state", "plan", "server") if request.args.get(key)}
        include = request.args.get("include", "")
        if include not in ("", "backup"):
            raise problems.bad_request([("include", "must be 'backup' (each tenant's last complete backup and health)")])
        owned = api_tokens.owned_by(conn(), found.id) if found.scope == "reseller" else None
        records = ledger.page_tenants(conn(), after, limit + 1, names=owned, **filters)
        items = [tenant_result(record) for record in records[:limit]]
        if include:
            dashboard.add_backup_health(conn(), items, records[:limit])
        return {"items": items, "next": records[limit - 1].name if len(records) > limit else None}

    @app.get("/v1/tenants/<name>")
    def tenant_get(name):
        found = token()
        visible_tenant(found, checked_name(name))
        record = existing(name)
        return {**tenant_result(record), "external_ref": operation_queue.external_ref(conn(), name)}

    @app.post("/v1/tenants")
    def tenant_create():
        found = token(write=True)
        body = json_body()
        name = body.get("name") if isinstance(body, dict) else None
        if found.scope == "reseller" and isinstance(name, str):
            record = ledger.get_tenant(conn(), name)
            if record is not None and record.state != "deleted":
                visible_tenant(found, name)  # another's tenant: 403, as for every other request on it
        return enqueue(found, "create", name, body)

    @app.patch("/v1/tenants/<name>")
    def tenant_change(name):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        return enqueue(found, "change", name, json_body())

    def tenant_action(name, action):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        return enqueue(found, action, name, json_body() if request.content_length else {})

    app.post("/v1/tenants/<name>/suspend", endpoint="tenant_suspend")(lambda name: tenant_action(name, "suspend"))
    app.post("/v1/tenants/<name>/resume", endpoint="tenant_resume")(lambda name: tenant_action(name, "resume"))

    @app.delete("/v1/tenants/<name>")
    def tenant_delete(name):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        body = {"confirm": request.args.get("confirm")}
        if "backup" in request.args:
            body["backup"] = {"true": True, "false": False}.get(request.args["backup"], request.args["backup"])
        return enqueue(found, "delete", name, body)

    @app.get("/v1/tenants/<name>/backups")
    def backups_list(name):
        found = token()
        visible_tenant(found, checked_name(name))
        if ledger.get_tenant(conn(), name) is None:  # a removed tenant's backups are listed too (undelete)
            raise problems.not_found(f"tenant {name!r}")
        listed, failure = run_tenant_backups({**settings.config, "name": name, "verify": None})
        if failure:
            raise Problem(503, "Backups unavailable", failure)
        return {"items": listed["backups"], "last_complete": listed["last_complete"],
                "incomplete_in_store": listed["incomplete_in_store"]}

    @app.post("/v1/tenants/<name>/backups")
    def backup_take(name):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        return enqueue(found, "backup", name, json_body() if request.content_length else {})

    @app.post("/v1/tenants/<name>/undelete")
    def tenant_undelete(name):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        return enqueue(found, "undelete", name, json_body() if request.content_length else {})

    @app.post("/v1/tenants/<name>/restore")
    def backup_restore(name):
        found = token(write=True)
        visible_tenant(found, checked_name(name))
        body = json_body()
        if isinstance(body, dict) and body.get("from_tenant"):
            visible_tenant(found, checked_name(body["from_tenant"]))  # a reseller restores only from its own
        if isinstance(body, dict) and body.get("odoo_export") and found.scope == "reseller":
            raise problems.forbidden("importing an export: the store's exports are not per reseller yet, ask an admin")
        return enqueue(found, "restore", name, body)

    @app.post("/v1/webhooks")
    def webhook_create():
        found = token(admin=True)
        body = json_body()
        if not isinstance(body, dict):
            raise problems.bad_request([("body", "must be a JSON object with url and events")])
        unknown = [(field, "is not a field of a webhook; allowed: url, events") for field in sorted(body)
                   if field not in ("url", "events")]
        found_problems = unknown + webhooks.subscription_problems(body.get("url"), body.get("events"))
        if found_problems:
            raise problems.bad_request(found_problems)
        webhook, secret = webhooks.subscribe(conn(), body["url"], body["events"], found.id)
        response = jsonify({**webhook, "secret": secret})
        response.status_code = 201
        return response

    @app.get("/v1/webhooks")
    def webhook_list():
        token(admin=True)
        return {"items": webhooks.list_webhooks(conn())}

    @app.delete("/v1/webhooks/<webhook_id>")
    def webhook_delete(webhook_id):
        token(admin=True)
        if not webhooks.disable(conn(), webhook_id):
            raise problems.not_found(f"live webhook {webhook_id!r}")
        return "", 204

    @app.get("/v1/operations")
    def operations_list():
        found = token()
        limit = page_args()
        try:
            after = int(request.args.get("after", 0))
        except ValueError:
            raise problems.bad_request([("after", "must be the seq of the last operation of the previous page")]) from None
        owned = api_tokens.owned_by(conn(), found.id) if found.scope == "reseller" else None
        listed = operation_queue.list_operations(conn(), tenant=request.args.get("tenant"), state=request.args.get("state"),
                                                 tenants=owned, after=after, limit=limit + 1)
        return {"items": [operation.as_dict() for operation in listed[:limit]],
                "next": listed[limit - 1].seq if len(listed) > limit else None}

    @app.get("/v1/operations/<operation_id>")
    def operation_get(operation_id):
        found = token()
        operation = operation_queue.get(conn(), operation_id)
        if operation is not None and found.scope == "reseller":
            visible_tenant(found, operation.tenant)
        if operation is None:
            raise problems.not_found(f"operation {operation_id!r}")
        return operation.as_dict()

    @app.get("/v1/servers")
    def servers():
        found = token()
        if found.scope == "reseller":
            raise problems.forbidden("the servers")
        return {"items": [{"name": name, **usage.as_dict()} for name, usage in sorted(ledger.server_usage(conn()).items())]}

    dashboard.register(app)
    return app
