# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant state machine as one table (docs/tenant-lifecycle.md draws it; a unit test keeps
the drawing and this table in agreement).

A row is one operation: the request that asks for it (the modules' `state`), the ledger states
it starts from (None: no tenant, or one that was removed), the state it records while it runs,
the state it ends in, and the function that runs it. Adding an operation is adding its file
and a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SaasError
from . import converge, remove


@dataclass(frozen=True)
class Transition:
    operation: str
    request: str
    sources: tuple
    target: str
    run: object
    through: str = None

    def edges(self):
        """(from, to) pairs the drawing shows; None is the drawing's start."""
        pairs = []
        for source in self.sources:
            if self.through and source != self.through:
                pairs.append((source, self.through))
            pairs.append((self.through or source, self.target))
        return sorted(set(pairs), key=lambda pair: (str(pair[0]), pair[1]))


TRANSITIONS = (
    Transition("provision", "present", (None, "deleted", "provisioning"), "active", converge.activate, through="provisioning"),
    Transition("change", "present", ("active",), "active", converge.activate),
    Transition("resume", "present", ("suspended",), "active", converge.activate),
    Transition("suspend", "suspended", ("provisioning", "active", "suspended"), "suspended", converge.suspend),
    Transition("remove", "absent", ("provisioning", "active", "suspended", "deleting"), "deleted", remove.decommission,
               through="deleting"),
)
REQUESTS = tuple(dict.fromkeys(transition.request for transition in TRANSITIONS))
_GERUND = {"present": "provisioning", "suspended": "suspending", "absent": "removing"}


@dataclass(frozen=True)
class Request:
    """What a front end asks of one tenant, validated: `spec` is None for a removal."""

    name: str
    state: str
    spec: object = None
    confirm: str = None
    backup: bool = True


def choose(name, request, current):
    """The transition `request` takes from the tenant's ledger state `current` (None: no tenant).
    A removal of a tenant that is gone runs too: it finds nothing to do, or reports a namespace
    the ledger does not know."""
    for transition in TRANSITIONS:
        if transition.request == request and current in transition.sources:
            return transition
    if request == "absent":
        return next(transition for transition in TRANSITIONS if transition.request == "absent")
    if current in (None, "deleted"):
        raise SaasError(f"tenant {name} does not exist: provision it (state: present) before {_GERUND[request]} it")
    if current == "deleting":
        # Past its first steps a removal may have dropped the database: bringing the tenant back
        # would give it an empty one. The removal is finished first; a restore brings data back.
        raise SaasError(f"tenant {name} is being removed (a removal started and did not finish): run state: absent "
                        "again to finish it; nothing was changed")
    allowed = sorted({source for t in TRANSITIONS if t.request == request for source in t.sources if source})
    raise SaasError(f"tenant {name} is {current}: state {request} applies to a tenant that is {' or '.join(allowed)}")


def run_transition(run, transition, request, current):
    """Runs the chosen transition's operation; returns the tenant's record."""
    run.say(f"tenant {request.name}: {transition.operation} ({current or 'none'} -> {transition.target})")
    return transition.run(run, request)
