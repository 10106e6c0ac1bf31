# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the SaaS controller's requests become: each kind of operation, its arguments checked
against the tenant module's own options (front/tenant_args.py) and its core's checks
(check_tenant_params), and the tenant module's parameters an operation runs with.

Every problem of a request is found before it is queued, each naming its field; the worker
then runs the tenant module's core (front/tenant.run_tenant) with those parameters, so the
API and a playbook run take turns on a tenant's ledger lock exactly as two playbook runs do."""

from __future__ import annotations

from ..errors import SpecError, shown
from ..request.naming import check_tenant_name
from .tenant import check_tenant_params
from .tenant_args import TENANT_ARGS, tenant_defaults

# kind: (the tenant module's state it runs, the request fields it takes)
KINDS = {
    "create": ("present", ("name", "plan", "domains", "db_strategy", "odoo_version", "image", "external_ref")),
    "change": ("present", ("plan", "domains", "odoo_version", "image")),
    "suspend": ("suspended", ()),
    "resume": ("present", ()),
    "delete": ("absent", ("confirm", "backup")),
}
# A tenant's own reference in a billing system (a subscription id): kept, never interpreted.
EXTRA_FIELDS = {"external_ref": dict(type="str")}
EXTERNAL_REF_MAX = 200
TYPES = {"str": str, "bool": bool, "int": int, "list": list}


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
    if field == "external_ref" and len(value) > EXTERNAL_REF_MAX:
        return [(field, f"at most {EXTERNAL_REF_MAX} characters, got {len(value)}")]
    return []


def check_request(kind, name, body, config, platform):
    """The arguments of an operation of `kind` on tenant `name` from a request body, or
    SpecErrors: raises RequestProblems listing every (field, message)."""
    state, allowed = KINDS[kind]
    if not isinstance(body, dict):
        raise RequestProblems([("body", f"must be a JSON object, got {type(body).__name__}")])
    problems = [(field, f"is not a field of {kind}; allowed: {', '.join(allowed) or 'none'}")
                for field in sorted(body) if field not in allowed]
    for field in allowed:
        if field in body:
            problems.extend(_field_problems(field, body[field], {**TENANT_ARGS, **EXTRA_FIELDS}[field]))
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
    arguments = {field: body[field] for field in allowed if body.get(field) is not None}
    try:
        check_tenant_params({**config, **tenant_defaults(), **arguments, "name": name, "state": state}, platform)
    except SpecError as error:
        raise RequestProblems([(error.field, error.message)]) from None
    return arguments


class RequestProblems(SpecError):
    """Every bad field of one request, each (field, message)."""

    def __init__(self, problems):
        super().__init__(problems[0][0], "; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def tenant_params(config, operation, record, image=None):
    """The tenant module's parameters for `operation` on a tenant the ledger records as
    `record` (None: not there): what the request did not name is what the tenant has, so a
    suspend or a plan change keeps its domains, version and strategy."""
    state, _allowed = KINDS[operation.kind]
    params = {**config, **tenant_defaults(), "name": operation.tenant, "state": state}
    if record is not None and record.state != "deleted":
        default_host = f"{record.name}.{config['base_domain']}"
        params.update(plan=record.plan, db_strategy=record.db_strategy, odoo_version=record.odoo_version,
                      domains=[host for host in record.hosts if host != default_host])
    if image:
        params["image"] = image
    params.update({key: value for key, value in operation.arguments.items() if key != "external_ref"})
    if operation.kind == "delete":
        params["confirm"] = operation.tenant
    return params
