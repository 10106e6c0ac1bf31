# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named points where the crash-consistency and fault tests interrupt a run.

`ODOO_SAAS_CRASH_AT=<point>` in the environment of a run makes it kill itself, uncleanly
(SIGKILL), when it reaches that point; unset (always, outside those tests) this does nothing.
A test running the core in its own process may also `observe(callback)`: callback(point) is
then called at every point, to break a dependency (stop a server, cut a proxy) right there.

The points (docs/reliability.md lists them with what each leaves behind):

    after-reserve, after-foundation, after-database, after-init-job, before-ledger-state
                                       provisioning, suspension and resumption (operations/converge.py)
    after-apply:<Kind>/<metadata.name> after each object of a tenant is applied (kube.apply_all)
    after-sql:<step>                   after each SQL statement on a shared server (pg.apply_statements);
                                       step is the statement's `step`: create-role, alter-role,
                                       alter-role-password, create-database, alter-database-owner,
                                       revoke-public, grant-connect, terminate-sessions,
                                       drop-database, drop-role
    after-deleting-state, after-backup, after-pods-stopped, after-drop, after-namespace-deleted
                                       decommissioning (operations/remove.py)
    backup:dump-written                pg_dump finished, the unverified temporary file is there
    backup:verified                    verified and hashed, not yet renamed to its final name
    backup:renamed                     under its final name, not yet recorded as taken in the ledger
    after-scale:<Kind>/<name>          after a Deployment or StatefulSet is scaled to 0 for removal
    after-delete:<Kind>/<name>         after a delete request is accepted (kube.delete)
"""

from __future__ import annotations

import os
import signal

VARIABLE = "ODOO_SAAS_CRASH_AT"
_OBSERVERS = []


def reached(point):
    for callback in list(_OBSERVERS):
        callback(point)
    if os.environ.get(VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def observe(callback):
    """Call callback(point) at every point this process reaches; returns a function that stops it."""
    _OBSERVERS.append(callback)
    return lambda: _OBSERVERS.remove(callback)
