# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the SaaS controller's requests become: each kind of operation, its arguments checked
against the modules' own options (tenant_args.TENANT_ARGS, tenant_backup.BACKUP_ARGS,
tenant_restore.RESTORE_ARGS) and their cores' checks, and the module parameters the operation
runs with.

Every problem of a request is found before it is queued, each naming its field; the worker
then runs the module's core (run_tenant, run_tenant_backup, run_tenant_restore) with those
parameters, so the API and a playbook run take turns on a tenant's ledger lock exactly as two
playbook runs do."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SaasError, SpecError, shown
from ..request.naming import check_tenant_name
from .tenant import check_tenant_params, run_tenant
from .tenant_args import TENANT_ARGS, tenant_defaults
from .tenant_backup import BACKUP_ARGS, run_tenant_backup
from .tenant_restore import RESTORE_ARGS, load_source, run_tenant_restore
from .tenant_undelete import UNDELETE_ARGS, run_tenant_undelete

# A tenant's own reference in a billing system (a subscription id): kept, never interpreted.
EXTERNAL_REF = dict(type="str", max_length=200)
TYPES = {"str": str, "bool": bool, "int": int, "list": list}


@dataclass(frozen=True)
class Kind:
    options: dict  # field: its option spec, as the module's argument spec writes it
    run: object  # the module's core: run(params, check_mode, progress) -> (result, failure)
    state: str | None = None  # the tenant module's state it asks for
    revives: bool = False  # runs on a removed tenant, with what the ledger recorded of it


def _pick(options, *names):
    return {name: options[name] for name in names}


KINDS = {
    "create": Kind({**_pick(TENANT_ARGS, "name", "plan", "domains", "db_strategy", "odoo_version", "image"),
                    "external_ref": EXTERNAL_REF}, run_tenant, "present"),
    "change": Kind(_pick(TENANT_ARGS, "plan", "domains", "odoo_version", "image"), run_tenant, "present"),
    "suspend": Kind({}, run_tenant, "suspended"),
    "resume": Kind({}, run_tenant, "present"),
    "delete": Kind(_pick(TENANT_ARGS, "confirm", "backup"), run_tenant, "absent"),
    "backup": Kind(BACKUP_ARGS, run_tenant_backup),
    "restore": Kind(RESTORE_ARGS, run_tenant_restore),
    "undelete": Kind(UNDELETE_ARGS, run_tenant_undelete, "present", revives=True),
}
NOT_PASSED = ("external_ref",)  # kept with the operation, not a module option


def _field_problems(field, value, spec):
    expected = TYPES[spec["type"]]
    if value is None:
        return []
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return [(field, f"must be a {'string' if expected is str else spec['type']}, got {shown(value)}")]
    if spec["type"] == "list":
        return [(f"{field}[{index}]", f"must be a string, got {shown(item)}")
                for index, item in enumerate(value) if not isinstance(item, str)]
    if "choices" in spec and value not in spec["choices"]:
        return [(field, f"must be one of {', '.join(spec['choices'])}, got {shown(value)}")]
    if "max_length" in spec and len(value) > spec["max_length"]:
        return [(field, f"at most {spec['max_length']} characters, got {len(value)}")]
    return []


class RequestProblems(SpecError):
    """Every bad field of one request, each (field, message)."""

    def __init__(self, problems):
        super().__init__(problems[0][0], "; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def _core_problem(error):
    """(field, message) of an error the core's checks raised: a SpecError names its field, the
    others start with it."""
    if isinstance(error, SpecError):
        return error.field, error.message
    field, _colon, message = str(error).partition(": ")
    return (field, message) if message else ("body", str(error))


def check_request(kind, name, body, config, platform):
    """The arguments of an operation of `kind` on tenant `name` from a request body; raises
    RequestProblems listing every (field, message)."""
    options = KINDS[kind].options
    if not isinstance(body, dict):
        raise RequestProblems([("body", f"must be a JSON object, got {type(body).__name__}")])
    problems = [(field, f"is not a field of {kind}; allowed: {', '.join(options) or 'none'}")
                for field in sorted(body) if field not in options]
    for field, spec in options.items():
        if field in body:
            problems.extend(_field_problems(field, body[field], spec))
    try:
        check_tenant_name(name)
    except SpecError as error:
        problems.append(("name", error.message))
    if kind == "create" and not body.get("plan"):
        problems.append(("plan", f"is required for a new tenant; one of: {', '.join(sorted(platform.plans))}"))
    if kind == "delete" and body.get("confirm") != name:
        problems.append(("confirm", f"must equal the tenant's name ({shown(name)}) to delete it"))
    if problems:
        raise RequestProblems(problems)
    arguments = {field: body[field] for field in options if body.get(field) is not None}
    try:
        if KINDS[kind].state is not None:
            check_tenant_params({**config, **tenant_defaults(), **arguments, "name": name, "state": KINDS[kind].state}, platform)
        if kind == "restore" or (kind == "undelete" and arguments.get("backup")):
            load_source(arguments, name)
    except SaasError as error:
        raise RequestProblems([_core_problem(error)]) from None
    return arguments


def module_params(config, operation, record, image=None):
    """The module parameters for `operation` on a tenant the ledger records as `record` (None:
    not there). For the tenant module, what the request did not name is what the tenant has, so
    a suspend or a plan change keeps its domains, version and strategy."""
    kind = KINDS[operation.kind]
    params = {**config, **(tenant_defaults() if kind.state else {}), "name": operation.tenant}
    # This kind's own options' defaults, over the tenant module's (undelete's `backup` is an id).
    params.update({option: spec.get("default") for option, spec in kind.options.items() if option not in NOT_PASSED})
    if kind.state is not None:
        params["state"] = kind.state
        if record is not None and (record.state != "deleted" or kind.revives):
            default_host = f"{record.name}.{config['base_domain']}"
            params.update(plan=record.plan, db_strategy=record.db_strategy, odoo_version=record.odoo_version,
                          domains=[host for host in record.hosts if host != default_host])
        if image:
            params["image"] = image
    params.update({key: value for key, value in operation.arguments.items() if key not in NOT_PASSED})
    if operation.kind == "delete":
        params["confirm"] = operation.tenant
    return params
