# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One worker of the SaaS controller: claim the next operation from the ledger's queue, run it
with the tenant module's core, record its steps as they come and its result at the end."""

from __future__ import annotations

import threading

from ..engines import ledger, operation_queue
from .api_requests import tenant_params
from .tenant import run_tenant

KEPT_RESULT = ("changed", "operation", "tenant", "actions", "api_requests")


def run_next(conn, config):
    """Claim and run one operation on `conn` (the worker's own ledger connection); returns it
    as it was claimed, or None when nothing waits."""
    operation = operation_queue.claim(conn)
    if operation is None:
        return None
    if operation.attempts > 1:
        operation_queue.add_step(conn, operation.id, f"resumed: its worker stopped during attempt {operation.attempts - 1}")
    record = ledger.get_tenant(conn, operation.tenant)
    image = None if "image" in operation.arguments else operation_queue.latest_argument(conn, operation.tenant, "image")
    params = tenant_params(config, operation, record, image)
    result, failure = run_tenant(params, False, progress=lambda message: operation_queue.add_step(conn, operation.id, message))
    operation_queue.finish(conn, operation.id, {key: result[key] for key in KEPT_RESULT if key in result}, failure)
    return operation


class Workers:
    """`count` threads, each with its own ledger connection, running operations until stopped."""

    def __init__(self, config, connect, count, poll_seconds=0.5, on_error=None):
        self.config, self.connect, self.count, self.poll_seconds = config, connect, count, poll_seconds
        self.on_error = on_error or (lambda error: None)
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"saas-worker-{index + 1}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout=None):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self):
        conn = None
        while not self.stopping.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                if run_next(conn, self.config) is None:
                    self.stopping.wait(self.poll_seconds)
            except Exception as error:  # noqa: BLE001 - a worker outlives a lost ledger; its operation is resumed
                self.on_error(error)
                if conn is not None:
                    conn.close()  # releases the operation's lock: the next claim resumes it
                conn = None
                self.stopping.wait(max(self.poll_seconds, 2))
        if conn is not None:
            conn.close()
