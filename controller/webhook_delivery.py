"""The SaaS controller's webhook deliverer: due outbox rows POSTed to their receivers, signed,
each marked delivered on a 2xx or retried after a doubling backoff (engines/webhooks.py)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import webhooks

SEND_TIMEOUT_SECONDS = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery (urllib would follow it as a GET without the body)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913 - urllib's signature
        return None


OPENER = urllib.request.build_opener(_NoRedirects)


def send(delivery, timeout=SEND_TIMEOUT_SECONDS):
    """POST one delivery; returns None on a 2xx, else what went wrong (no secret in it)."""
    request = urllib.request.Request(delivery.url, data=delivery.body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "odoo-saas-kit-webhooks/1",
        "X-Saas-Event": delivery.event, "X-Saas-Delivery": str(delivery.id),
        webhooks.SIGNATURE_HEADER: webhooks.sign(delivery.secret, int(time.time()), delivery.body)})
    try:
        with OPENER.open(request, timeout=timeout) as answer:  # the URL's scheme is checked on subscribe
            return None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"cannot reach the receiver: {getattr(error, 'reason', error)}"
    except Exception as error:  # noqa: BLE001 - a bad URL or answer fails this delivery, never the ones behind it
        return f"{type(error).__name__}: {error}"


def deliver_due(conn, retry_base_seconds):
    """Send what is due now; returns how many were taken."""
    due = webhooks.take_due(conn)
    for delivery in due:
        problem = send(delivery)
        if problem is None:
            webhooks.delivered(conn, delivery.id)
        else:
            webhooks.failed(conn, delivery.id, problem, webhooks.backoff(delivery.attempts, retry_base_seconds))
    return len(due)
