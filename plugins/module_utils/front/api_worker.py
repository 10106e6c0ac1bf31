# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One worker of the SaaS controller: claim the next operation from the ledger's queue, run it
with the tenant module's core, record its steps as they come and its result at the end."""

from __future__ import annotations

from ..engines import ledger, operation_queue
from .api_requests import KINDS, module_params

KEPT_RESULT = ("changed", "operation", "tenant", "actions", "api_requests", "backup", "pruned", "restore")
# An operation whose worker died this many times is failed, not run again: one that kills or
# breaks its worker every time must not take the queue down with it.
MAX_ATTEMPTS = 5


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
    image = None if "image" in operation.arguments else operation_queue.latest_argument(conn, operation.tenant, "image")
    params = module_params(config, operation, record, image)

    def progress(message):
        operation_queue.add_step(conn, operation.id, message)

    result, failure = KINDS[operation.kind].run(params, False, progress=progress)
    try:
        operation_queue.finish(conn, operation.id, {key: result[key] for key in KEPT_RESULT if key in result}, failure)
    except Exception as error:
        progress(f"recording the end failed ({type(error).__name__}): the next attempt runs it again")
        raise
    return operation
