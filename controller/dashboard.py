"""The operator dashboard: a static page (controller/dashboard/) served at /dashboard whose
script reads the JSON API with the operator's API token (pasted into its login form, kept in
the tab's sessionStorage and sent as `Authorization: Bearer`). The page and its files hold no
data and need no token; every figure on it comes from the API behind the same auth.

Also what `GET /v1/tenants?include=backup` adds to each tenant: its newest complete backup in
the ledger and a health derived from the ledger alone (no cluster or store read per request)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import abort, send_from_directory

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_records
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations.backup_health import FRESH_STATES, STALE_AFTER

STATIC = Path(__file__).with_name("dashboard")
FILES = ("index.html", "dashboard.js", "dashboard.css", "favicon.svg")
ENDPOINTS = ("dashboard", "dashboard_file")  # HTML and its files, not API: the OpenAPI check leaves them out
# The page loads nothing but its own files and talks only to this controller; no framing (clickjacking).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
BUSY_STATES = ("provisioning", "deleting")


def register(app):
    def served(filename):
        response = send_from_directory(STATIC, filename, max_age=0)
        response.headers.update(HEADERS)
        return response

    @app.get("/dashboard")
    def dashboard():
        return served("index.html")

    @app.get("/dashboard/<filename>")
    def dashboard_file(filename):
        if filename not in FILES:
            abort(404)
        return served(filename)


def add_backup_health(conn, items, records, now=None):
    """Adds `last_backup` and `health` to each tenant item (records: their TenantRecords, in order)."""
    now = now or datetime.now(timezone.utc)
    last = backup_records.last_complete_by_tenant(conn)
    failed = {tenant: (kind, operation_id) for tenant, kind, operation_id, state in conn.execute(
        "SELECT DISTINCT ON (tenant) tenant, kind, id, state FROM operations WHERE tenant = ANY(%s) "
        "ORDER BY tenant, seq DESC", ([record.name for record in records],)).fetchall() if state == "failed"}
    for item, record in zip(items, records):
        backup = last.get(record.name)
        item["last_backup"] = None if backup is None else {
            "id": backup.id, "kind": backup.kind, "taken_at": backup.started_at.isoformat(),
            "age_hours": round((now - backup.started_at).total_seconds() / 3600, 1)}
        item["health"] = health(record, backup, failed.get(record.name), now)
    return items


def health(record, backup, failed, now):
    """{status, detail} from the ledger alone. `deleted`; `failed` when the tenant's newest
    operation failed (`failed` is its (kind, id)), until one succeeds; `busy` while provisioning
    or deleting; `suspended` (its scheduled backups are paused with it); `stale` when active and
    its newest complete backup in the ledger (or, with none, its creation) is older than the
    daily schedule and its grace (backup_health.STALE_AFTER); else `ok`.

    The scheduled backups the CronJob's Jobs write to the store reach the ledger when a backup
    with prune records them (tenant_backup `prune: true`, or POST .../backups {"prune": true}),
    so `stale` is the ledger's word; tenant_info's health also reads the store, the cluster and
    the database."""
    since = backup.started_at if backup else record.created_at
    age = now - since if since else None
    hours = f"{age.total_seconds() / 3600:.0f} hours" if age is not None else "?"
    if record.state == "deleted":
        return {"status": "deleted", "detail": "decommissioned"}
    if failed:
        return {"status": "failed", "detail": f"its newest operation ({failed[0]}, {failed[1]}) failed"}
    if record.state in BUSY_STATES:
        return {"status": "busy", "detail": f"{record.state}: an operation or run is on it"}
    if record.state not in FRESH_STATES:
        return {"status": record.state, "detail": "its scheduled backups are paused with it"}
    if age is not None and age > STALE_AFTER:
        return {"status": "stale", "detail": f"newest complete backup {backup.id} is {hours} old" if backup
                else f"no complete backup in the {hours} since it was created"}
    return {"status": "ok", "detail": f"newest complete backup {hours} old" if backup
            else f"no backup yet, created {hours} ago (stale after {STALE_AFTER.total_seconds() / 3600:.0f} hours)"}
