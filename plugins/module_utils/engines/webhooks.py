# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SaaS controller's webhooks and their outbox in the ledger.

An event is written to the outbox, one row per subscribed webhook, in the same transaction
as what it reports (an operation's end), so it exists exactly when that happened. A deliverer
takes due rows with `FOR UPDATE SKIP LOCKED`, leases them (next_attempt_at moves past the
send's timeout, so a deliverer that dies mid-send leaves the row to be sent again), and marks
each delivered on a 2xx or due again after a backoff: delivery is at least once, never lost
while the receiver is down. Each body is signed with the webhook's secret (sign())."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from ..errors import SpecError, shown

EVENTS = ("tenant.created", "tenant.active", "tenant.suspended", "tenant.deleted", "backup.done", "backup.failed",
          "restore.done", "operation.succeeded", "operation.failed")
URL_PATTERN = re.compile(r"^https?://[^\s/?#]+(/[^\s]*)?$")
URL_MAX = 2000
LEASE_SECONDS = 120  # longer than a batch of take_due's 5, each sent within 10 s to connect and 10 s to answer
SIGNATURE_HEADER = "X-Saas-Signature"


def events_of(kind, state, tenant_state):
    """The events an operation of `kind` that ended in `state`, leaving its tenant in
    `tenant_state`, raises."""
    if state == "failed":
        return ["backup.failed", "operation.failed"] if kind == "backup" else ["operation.failed"]
    found = ["operation.succeeded"]
    found += {"create": ["tenant.created"], "delete": ["tenant.deleted"], "backup": ["backup.done"],
              "restore": ["restore.done"]}.get(kind, [])
    if kind != "delete" and tenant_state in ("active", "suspended"):
        found.append(f"tenant.{tenant_state}")
    return found


def subscription_problems(url, events):
    """[(field, message)] of a webhook's URL and events, empty when both are good."""
    problems = []
    if not isinstance(url, str) or len(url) > URL_MAX or not URL_PATTERN.match(url):
        problems.append(("url", f"must be an http:// or https:// URL of at most {URL_MAX} characters, got {shown(url)}"))
    if not isinstance(events, list) or not events or not all(isinstance(e, str) and e in EVENTS + ("*",) for e in events):
        problems.append(("events", f"must be a non-empty list of: *, {', '.join(EVENTS)}; got {shown(events)}"))
    return problems


def subscribe(conn, url, events, actor):
    """A new webhook; returns (its row as a dict, its signing secret, shown this once)."""
    problems = subscription_problems(url, events)
    if problems:
        raise SpecError(*problems[0])
    events = sorted(set(events))
    webhook_id, secret = f"wh-{secrets.token_hex(6)}", secrets.token_urlsafe(32)
    conn.execute("INSERT INTO webhooks (id, url, secret, events, actor) VALUES (%s, %s, %s, %s, %s)",
                 (webhook_id, url, secret, events, actor))
    return {"id": webhook_id, "url": url, "events": events}, secret


def list_webhooks(conn):
    rows = conn.execute(
        "SELECT w.id, w.url, w.events, w.created_at, w.disabled_at, "
        "count(o.id) FILTER (WHERE o.delivered_at IS NULL), count(o.id) FILTER (WHERE o.delivered_at IS NOT NULL) "
        "FROM webhooks w LEFT JOIN outbox o ON o.webhook = w.id GROUP BY w.id ORDER BY w.created_at").fetchall()
    return [{"id": row[0], "url": row[1], "events": list(row[2]), "created_at": row[3].isoformat(),
             "disabled_at": row[4] and row[4].isoformat(), "pending": row[5], "delivered": row[6]} for row in rows]


def disable(conn, webhook_id):
    """Stop a webhook: nothing new is queued for it; what is queued is still delivered."""
    return conn.execute("UPDATE webhooks SET disabled_at = now() WHERE id = %s AND disabled_at IS NULL",
                        (webhook_id,)).rowcount == 1


def emit(conn, event, tenant, payload):
    """Queue `event` for every live webhook subscribed to it (call inside the transaction of
    what it reports)."""
    conn.execute("INSERT INTO outbox (webhook, event, tenant, payload) "
                 "SELECT id, %s, %s, %s FROM webhooks WHERE disabled_at IS NULL AND (%s = ANY(events) OR '*' = ANY(events))",
                 (event, tenant, json.dumps({**payload, "event": event}, sort_keys=True, default=str), event))


@dataclass(frozen=True)
class Delivery:
    id: int
    url: str
    secret: str
    event: str
    body: bytes
    attempts: int


def take_due(conn, limit=5):
    """Lease up to `limit` due deliveries (they are due again after LEASE_SECONDS unless marked)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE outbox o SET next_attempt_at = now() + make_interval(secs => %s), attempts = o.attempts + 1 "
            "FROM webhooks w WHERE w.id = o.webhook AND o.id IN ("
            "  SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= now() "
            "  ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING o.id, w.url, w.secret, o.event, o.payload, o.attempts", (LEASE_SECONDS, limit)).fetchall()
    return [Delivery(row[0], row[1], row[2], row[3], json.dumps(row[4], sort_keys=True).encode(), row[5])
            for row in sorted(rows)]


def delivered(conn, delivery_id):
    conn.execute("UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE id = %s", (delivery_id,))


def failed(conn, delivery_id, error, retry_seconds):
    conn.execute("UPDATE outbox SET next_attempt_at = now() + make_interval(secs => %s), last_error = %s WHERE id = %s",
                 (retry_seconds, error[:500], delivery_id))


def backoff(attempts, base_seconds, max_seconds=3600):
    """Seconds before the next try after `attempts` failed ones: doubling from base, capped."""
    return min(base_seconds * 2 ** min(attempts - 1, 30), max_seconds)


def sign(secret, timestamp, body):
    """The signature header's value: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret, header, body, now, tolerance_seconds=300):
    """True when `header` signs `body` with `secret`, made within the tolerance of `now` (what a
    receiver checks; the tests use it as a receiver would)."""
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    if not fields.get("t", "").isdigit() or abs(now - int(fields["t"])) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, int(fields["t"]), body), f"t={fields['t']},v1={fields.get('v1', '')}")
