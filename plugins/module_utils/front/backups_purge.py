# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backups_purge module's entry: the end of the soft delete, every expired final backup
removed from the store and marked pruned (operations/backups.purge_expired)."""

from __future__ import annotations

from contextlib import closing

from ..engines.connections import open_connections
from ..operations.backups import purge_expired
from ..operations.run import Run
from ..request.spec import load_platform
from .harness import guarded, step_recorder


def run_backups_purge(params, check_mode, progress=None):
    """Returns (result, failure message or None)."""
    steps, say = step_recorder(progress)
    result = {"changed": False, "actions": [], "purged": [], "steps": steps, "warnings": []}
    runs = []

    def body(opened):
        platform = load_platform(params)
        connections = opened.enter_context(closing(open_connections(params)))
        run = Run(connections, platform, check_mode=check_mode, progress=say)
        runs.append(run)
        result["purged"] = purge_expired(run)

    failure = guarded(params, body)
    for run in runs:
        result.update(changed=run.changed, actions=run.actions, warnings=run.warnings)
    return result, failure
