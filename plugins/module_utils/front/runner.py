# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module parameters in, result out: what the tenant module runs, kept free of Ansible."""

from __future__ import annotations

from types import SimpleNamespace

from ..engines import ledger, pg
from ..operations import lifecycle
from ..manifests import tenant as manifests
from ..engines.connections import connect_kube, ledger_connection, open_connections, shared_servers
from ..errors import DependencyError, SaasError
from ..operations.info import tenants_info
from ..redact import redact_text
from ..request.naming import check_tenant_name
from ..request.plan_fit import plan_problems
from ..request.plans import load_plans
from ..request.spec import build_spec, load_platform, load_wait_timeout


def secrets_in(params):
    """The platform's own secrets among the parameters, whatever shape bad input gave them."""
    found = []
    ledger_params = params.get("ledger")
    if isinstance(ledger_params, dict) and isinstance(ledger_params.get("password"), str):
        found.append(ledger_params["password"])
    servers = params.get("shared_servers")
    for server in servers if isinstance(servers, list) else []:
        if isinstance(server, dict) and isinstance(server.get("admin_password"), str):
            found.append(server["admin_password"])
    if isinstance(params.get("api_key"), str):
        found.append(params["api_key"])
    return found


def tenant_result(record, platform):
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


# pg.py wraps every error of the shared servers: a bare psycopg error comes from the ledger.
LEDGER_ERRORS = (pg.psycopg.Error,) if pg.psycopg else ()


def ledger_lost(params, error):
    where = ledger_connection(params)
    return DependencyError("ledger", f"the tenant ledger at {where.host}:{where.port} (database {where.dbname}) failed "
                                     f"during the run: {pg.describe_error(error)}. Check that its PostgreSQL server runs "
                                     "and is reachable, then run again: a run that stopped half way is finished by the next one.")


def run_tenant(params, check_mode, progress=None):
    """Returns (result, failure message or None). Bad input fails before anything is opened."""
    steps = []

    def say(message):
        steps.append(message)
        if progress:
            progress(message)

    result = {"changed": False, "actions": [], "diff": [], "steps": steps}
    connections = None
    run = None
    try:
        platform = load_platform(params)
        name = params.get("name")
        state = params.get("state") or "present"
        check_tenant_params(params, platform)
        wait_timeout = load_wait_timeout(params)
        connections = open_connections(params)
        if not check_mode:
            ledger.lock_tenant(connections.ledger, name)
        run = lifecycle.Run(connections, platform, check_mode=check_mode, wait=params.get("wait", True),
                            wait_timeout=wait_timeout, progress=say)
        if state == "absent":
            record = lifecycle.remove(run, name, params.get("confirm"), take_backup=params.get("backup", True))
        else:
            existing = lifecycle.existing_record(run, name)
            spec = build_spec(params, platform, existing_plan=existing.plan if existing else None)
            if state == "suspended" and existing is None:
                raise SaasError(f"tenant {name} does not exist: provision it (state: present) before suspending it")
            record = lifecycle.converge(run, spec, suspended=state == "suspended")
        result["tenant"] = tenant_result(record, platform)
        failure = None
    except LEDGER_ERRORS as error:
        failure = str(ledger_lost(params, error))
    except SaasError as error:
        failure = str(error)
        if run is not None and connections is not None and connections.ledger is not None:
            try:
                result["tenant"] = tenant_result(ledger.get_tenant(connections.ledger, name), None)
            except Exception:  # noqa: BLE001 - the failure above is what matters
                pass
    finally:
        if connections is not None:
            connections.close()
    if run is not None:
        result.update(changed=run.changed, actions=run.actions, diff=run.diffs,
                      api_requests=dict(sorted(connections.kube.requests.items())))
        if run.warnings:
            result["warnings"] = run.warnings  # Ansible shows a result's warnings after the task
    if failure:
        failure = redact_text(failure, secrets_in(params))
    return result, failure


def run_tenant_info(params):
    result = {"changed": False, "tenants": [], "orphan_namespaces": [], "servers": {}}
    connections = None
    try:
        platform = load_platform(params)
        if params.get("name"):
            check_tenant_name(params["name"])
        connections = open_connections(params)
        run = lifecycle.Run(connections, platform, check_mode=True)
        result["tenants"], result["orphan_namespaces"] = tenants_info(run, params.get("name"))
        result["servers"] = {name: usage.as_dict() for name, usage in ledger.server_usage(connections.ledger).items()}
        failure = None
    except SaasError as error:
        failure = redact_text(str(error), secrets_in(params))
    finally:
        if connections is not None:
            connections.close()
    return result, failure


def run_ledger(params, check_mode):
    result = {"changed": False, "migrations": [], "servers": {}}
    conn = None
    try:
        capacity = params.get("shared_server_capacity") or 50
        servers = shared_servers(params)
        conn = pg.connect(ledger_connection(params))
        applied = ledger.migrate(conn, check_mode)
        result["migrations"] = [f"{version}: {description}" for version, description in applied]
        changed = bool(applied)
        if check_mode and applied:
            result["changed"] = True
            return result, None  # the tables do not exist yet: nothing more to compare
        for name, server in servers.items():
            max_connections, reserved = _connection_budget(server.admin)
            changed |= ledger.register_server(conn, name, server.admin.host, server.admin.port, capacity,
                                              max_connections=max_connections, reserved_connections=reserved,
                                              check_mode=check_mode)
        plans = load_plans(params["plans"]) if params.get("plans") else {}
        warnings = [f"{problem} (tenants on this plan cannot be provisioned or changed)" for problem in plan_problems(plans)]
        limits = {plan.name: plan.db_connection_limit for plan in plans.values()}
        filled, unknown = ledger.fill_connection_limits(conn, limits, check_mode)
        changed |= bool(filled)
        warnings += [f"tenant {name}'s plan {plan!r} is not in plans: its connections are not counted in its "
                     "server's budget until it runs with a plan again" for name, plan in unknown]
        result["servers"] = {name: usage.as_dict() for name, usage in ledger.server_usage(conn).items()}
        if params.get("kubeconfig") or params.get("host"):
            policies, result["server_policies"] = _apply_server_policies(params, servers, check_mode)
            changed |= policies
        result["changed"] = changed
        if warnings:
            result["warnings"] = warnings
        failure = None
    except SaasError as error:
        failure = redact_text(str(error), secrets_in(params))
    finally:
        if conn is not None:
            conn.close()
    return result, failure


def _connection_budget(admin):
    """The server's own max_connections and reserve (it is the one source of both)."""
    conn = pg.connect(admin)
    try:
        return pg.connection_budget(conn)
    finally:
        conn.close()


def _apply_server_policies(params, servers, check_mode):
    """Each shared server's namespace admits PostgreSQL traffic from tenant namespaces (and the
    platform namespace) only. Returns (changed, {server: action})."""
    platform_namespace = SimpleNamespace(platform_namespace=params.get("platform_namespace") or "saas-system")
    kube = connect_kube(params)
    try:
        actions = {}
        for name in servers:
            if kube.get("v1", "Namespace", name) is None:
                raise SaasError(f"namespace {name} of shared server {name} does not exist: "
                                "playbooks/platform.yml creates it before registering the server")
            actions[name] = kube.apply(manifests.shared_server_policy(name, platform_namespace), check_mode).action
        return any(action != "unchanged" for action in actions.values()), actions
    finally:
        kube.close()
