# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of an operation: its clients, its settings, and the record of what it did (actions,
diffs, warnings, progress) that every front end returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..redact import redact_object


@dataclass
class Run:
    """One module run: its clients, settings and what it did."""

    connections: object
    platform: object
    check_mode: bool = False
    wait: bool = True
    wait_timeout: int = 600
    progress: object = None
    actions: list = field(default_factory=list)
    diffs: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    changed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def kube(self):
        return self.connections.kube

    @property
    def ledger(self):
        return self.connections.ledger

    def say(self, message):
        if self.progress:
            self.progress(f"[{time.monotonic() - self.started:5.1f}s] {message}")

    def warn(self, message):
        self.warnings.append(message)
        self.say(f"warning: {message}")

    def record_changes(self, changes):
        for change in changes:
            if not change.changed:
                continue
            self.changed = True
            self.actions.append(f"{change.action} {change.ref}")
            self.diffs.append({
                "before_header": change.ref, "after_header": change.ref,
                "before": redact_object(change.before) if change.before else {},
                "after": redact_object(change.after) if change.after else {},
            })

    def record_sql(self, server, statements, executed=True):
        for statement in statements:
            self.changed = True
            self.actions.append(f"SQL on {server}: {statement.display}" + ("" if executed else " (check mode)"))

    def record_ledger(self, message):
        self.changed = True
        self.actions.append(f"ledger: {message}")
