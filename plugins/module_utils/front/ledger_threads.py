# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SaaS controller's background threads (operation workers, the webhook deliverer): each
with its own ledger connection, doing `step(conn)` until stopped and resting `poll_seconds`
when a step found nothing to do. A lost ledger closes the connection and is retried: what the
thread held (an operation's lock, a delivery's lease) is released or expires, and is taken
again by the next step, here or in another controller."""

from __future__ import annotations

import threading

RETRY_SECONDS = 2


class LedgerThreads:
    def __init__(self, name, count, connect, step, poll_seconds=0.5, on_error=None):
        self.name, self.count, self.connect, self.step, self.poll_seconds = name, count, connect, step, poll_seconds
        self.on_error = on_error or (lambda error: None)
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for index in range(self.count):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{index + 1}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

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
                if not self.step(conn):
                    self.stopping.wait(self.poll_seconds)
            except Exception as error:  # noqa: BLE001 - the thread outlives a lost ledger
                self.on_error(error)
                if conn is not None:
                    conn.close()
                conn = None
                self.stopping.wait(max(self.poll_seconds, RETRY_SECONDS))
        if conn is not None:
            conn.close()
