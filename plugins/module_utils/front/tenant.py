# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant module's entry: parameters in, one operation of the state machine, result out."""

from __future__ import annotations

from contextlib import closing

from ..engines import ledger
from ..engines.connections import open_connections
from ..errors import SaasError
from ..operations import table
from ..operations.run import Run
from ..request.naming import check_tenant_name
from ..request.spec import build_spec, load_platform, load_wait_timeout
from .harness import guarded, step_recorder


def tenant_result(record):
    if record is None:
        return {"name": None, "state": "absent"}
    result = record.as_dict()
    result["urls"] = [f"https://{host}/" for host in record.hosts] if record.state != "deleted" else []
    return result


def check_tenant_params(params, platform):
    """Everything about one tenant's options that can be checked without the ledger; raises
    SpecError naming the option. Runs before anything is opened."""
    if (params.get("state") or "present") == "absent":
        check_tenant_name(params.get("name"))
    else:
        build_spec(params, platform, existing_plan=params.get("plan") or next(iter(platform.plans)))


def _request(params, platform, existing):
    state = params.get("state") or "present"
    if state == "absent":
        return table.Request(params.get("name"), state, confirm=params.get("confirm"), backup=params.get("backup", True))
    spec = build_spec(params, platform, existing_plan=existing.plan if existing else None)
    return table.Request(spec.name, state, spec=spec)


def run_tenant(params, check_mode, progress=None, resolve=None, connections=None):
    """Returns (result, failure message or None). Bad input fails before anything is opened.
    resolve(record), if given, returns the parameters to run with once the tenant's lock is held
    and its record read (the controller's: what a request did not name is what the tenant has
    then, not before a run it waited for). connections: a fleet's, shared (front/fleet.py),
    instead of the run's own."""
    shared = connections
    steps, say = step_recorder(progress)

    result = {"changed": False, "actions": [], "diff": [], "steps": steps}
    name = params.get("name")
    runs = []  # the run, once the connections are open

    def body(opened):
        platform = load_platform(params)
        check_tenant_params(params, platform)
        wait_timeout = load_wait_timeout(params)
        connections = shared or opened.enter_context(closing(open_connections(params)))
        if not check_mode and not connections.tenant_locked:
            ledger.lock_tenant(connections.ledger, name)
        run = Run(connections, platform, check_mode=check_mode, wait=params.get("wait", True),
                  wait_timeout=wait_timeout, progress=say)
        runs.append(run)
        known = ledger.get_tenant(connections.ledger, name)
        living = known if known is not None and known.state != "deleted" else None
        request = _request(resolve(known) if resolve else params, platform, living)
        transition = table.choose(name, request.state, known and known.state)
        result["operation"] = transition.operation
        result["tenant"] = tenant_result(table.run_transition(run, transition, request, known and known.state))

    def on_failure(error):
        if runs and isinstance(error, SaasError):  # the ledger still answers: show where the tenant stands
            try:
                result["tenant"] = tenant_result(ledger.get_tenant(runs[0].ledger, name))
            except Exception:  # noqa: BLE001 - the failure above is what matters
                pass

    failure = guarded(params, body, on_failure)
    for run in runs:
        result.update(changed=run.changed, actions=run.actions, diff=run.diffs,
                      api_requests=dict(sorted(run.kube.requests.items())))
        if run.warnings:
            result["warnings"] = run.warnings  # Ansible shows a result's warnings after the task
    return result, failure
