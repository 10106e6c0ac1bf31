# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One worker of the SaaS controller: claim the next operation from the ledger's queue, run it
with the tenant module's core, record its steps as they come and its result at the end."""

from __future__ import annotations

from ..engines import ledger, operation_queue
from ..redact import redact_text
from .api_requests import KINDS, module_params
from .harness import secrets_in
from .tenant import run_tenant

KEPT_RESULT = ("changed", "operation", "tenant", "actions", "warnings", "api_requests", "backup", "pruned", "restore")
# An operation whose worker died this many times is failed, not run again: one that kills or
# breaks its worker every time must not take the queue down with it.
MAX_ATTEMPTS = 5


def _refusal(operation, record):
    """Why `operation` must not run on the tenant as the ledger has it now (it was queued when
    the tenant was otherwise), or None."""
    living = record is not None and record.state != "deleted"
    if operation.kind == "create" and living and operation.attempts == 1:
        return f"tenant {operation.tenant} was made by another run before this create: change it with PATCH instead"
    if operation.kind not in ("create", "undelete") and not living:
        return f"tenant {operation.tenant} was removed before this {operation.kind} ran"
    return None


def run_next(conn, config):
    """Claim and run one operation on `conn` (the worker's own ledger connection); returns it
    as it was claimed, or None when nothing waits."""
    operation = operation_queue.claim(conn)
    if operation is None:
        return None
    if operation.attempts > MAX_ATTEMPTS:
        operation_queue.finish(conn, operation.id, None, f"its worker stopped during each of {MAX_ATTEMPTS} attempts (see its "
                                                         "steps and the controller's log); fix the cause, then send the request again")
        return operation
    if operation.attempts > 1:
        operation_queue.add_step(conn, operation.id, f"resumed: its worker stopped during attempt {operation.attempts - 1}")
    record = ledger.get_tenant(conn, operation.tenant)
    refusal = _refusal(operation, record)
    if refusal:
        operation_queue.finish(conn, operation.id, None, refusal)
        return operation
    image = None
    if "image" not in operation.arguments:
        image = operation_queue.latest_argument(conn, operation.tenant, "image", operation.seq)
    params = module_params(config, operation, record, image)

    def progress(message):
        operation_queue.add_step(conn, operation.id, message)

    kind = KINDS[operation.kind]
    extra = {}
    if kind.run is run_tenant:  # the tenant's values as they are once its lock is held
        extra["resolve"] = lambda known: module_params(config, operation, known, image)
    try:
        result, failure = kind.run(params, False, progress=progress, **extra)
    except Exception as error:  # a defect, not a refusal: say it where the operation's reader looks, then retry
        progress(f"stopped by an unexpected {type(error).__name__}: {redact_text(str(error), secrets_in(params))}")
        raise
    try:
        operation_queue.finish(conn, operation.id, {key: result[key] for key in KEPT_RESULT if key in result}, failure)
    except Exception as error:
        progress(f"recording the end failed ({type(error).__name__}): the next attempt runs it again")
        raise
    return operation
