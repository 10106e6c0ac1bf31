# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every front end does around its operation: turn a failure into a message that says
what to do next, with the platform's own secrets taken out of it."""

from __future__ import annotations

from contextlib import ExitStack, closing

from ..engines import ledger, pg
from ..engines.connections import ledger_connection, open_connections
from ..errors import DependencyError, SaasError
from ..operations.run import Run
from ..redact import redact_text
from ..request.naming import check_tenant_name
from ..request.spec import load_platform, load_wait_timeout

# pg.py wraps every error of the shared servers: a bare psycopg error comes from the ledger.
LEDGER_ERRORS = (pg.psycopg.Error,) if pg.psycopg else ()


def secrets_in(params):
    """The platform's own secrets among the parameters, whatever shape bad input gave them."""
    found = []
    ledger_params = params.get("ledger")
    if isinstance(ledger_params, dict):
        found.append(ledger_params.get("password"))
    servers = params.get("shared_servers")
    for server in servers if isinstance(servers, list) else []:
        if isinstance(server, dict):
            found.append(server.get("admin_password"))
    found.append(params.get("api_key"))
    # An empty or missing one is no secret (and masking "" would mangle every message).
    return [secret for secret in found if isinstance(secret, str) and secret]


def ledger_lost(params, error):
    where = ledger_connection(params)
    return DependencyError("ledger", f"the tenant ledger at {where.host}:{where.port} (database {where.dbname}) failed "
                                     f"during the run: {pg.describe_error(error)}. Check that its PostgreSQL server runs "
                                     "and is reachable, then run again: a run that stopped half way is finished by the next one.")


def failure_message(params, error):
    """The message a front end reports for `error` (a SaasError, or the ledger's connection lost)."""
    if LEDGER_ERRORS and isinstance(error, LEDGER_ERRORS):
        error = ledger_lost(params, error)
    return redact_text(str(error), secrets_in(params))


def step_recorder(progress=None):
    """(steps, say): say(message) keeps the message in steps (the result's) and passes it on to
    `progress` (a front end's live output) when one is given."""
    steps = []

    def say(message):
        steps.append(message)
        if progress:
            progress(message)

    return steps, say


def tenant_run(opened, params, check_mode, say):
    """The Run of a module that acts on one tenant, and the tenant's ledger record (None: not
    there): the platform settings, the name and the wait checked, the connections open (closed
    with `opened`), the tenant locked against other runs unless in check mode."""
    platform = load_platform(params)
    name = check_tenant_name(params.get("name"))
    wait_timeout = load_wait_timeout(params)
    connections = opened.enter_context(closing(open_connections(params)))
    if not check_mode:
        ledger.lock_tenant(connections.ledger, name)
    run = Run(connections, platform, check_mode=check_mode, wait_timeout=wait_timeout, progress=say)
    return run, ledger.get_tenant(connections.ledger, name)


def guarded(params, body, on_failure=None):
    """Runs body(opened), where body registers what it opens on `opened` (an ExitStack), closed
    whatever happens. Returns None, or the failure message: a SaasError or the ledger lost,
    with the platform's secrets removed. on_failure(error), if given, runs first (with what
    was opened still open)."""
    with ExitStack() as opened:
        try:
            body(opened)
            return None
        except LEDGER_ERRORS + (SaasError,) as error:
            if on_failure is not None:
                on_failure(error)
            return failure_message(params, error)


def report(module, result, failure):
    """A module's run ends: failed with the message, or done; the diff only in diff mode, and
    the warnings through module.warn (a result's own `warnings` key is deprecated)."""
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if failure:
        module.fail_json(msg=failure, **result)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)
