# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform_check module's entry: the inventory's settings, typed exactly as the platform
modules would receive them, then checked by the core's own validation."""

from __future__ import annotations

import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ..errors import SpecError
from ..redact import redact_text
from ..request.inventory import inventory_problems, variable
from .harness import secrets_in
from .platform_args import platform_args

# How Ansible's own messages name the option, most specific first: "found in 'x'" for a field
# inside option x, "option 'x'" for its elements, "argument 'x'", and "x. Supported parameters".
_OPTION = (re.compile(r"found in '?(\w+)"), re.compile(r"option '(\w+)'"), re.compile(r"argument '(\w+)'"),
           re.compile(r"^(\w+)\. Supported parameters"))
# What holds a password: given as the module's own options, whose passwords are no_log.
SECRET_OPTIONS = ("ledger", "shared_servers", "api_key", "backup_target", "backup_encryption")
OWN_OPTIONS = ("ledger", "shared_servers", "backup_target", "backup_encryption")


def _option_named(message):
    for pattern in _OPTION:
        found = pattern.search(message)
        if found:
            return found.group(1)
    return None


def _typed(settings):
    """The settings as the modules' argument spec converts them, and its refusals by variable."""
    result = ArgumentSpecValidator(platform_args()).validate(dict(settings))
    problems = []
    for error in result.errors:
        option = _option_named(error.msg)
        problems.append(f"{variable(option)}: {error.msg}" if option else error.msg)
    return result.validated_parameters, problems


def _top(problem):
    """The variable a problem is about, without the path inside it."""
    return re.split(r"[.:\[ ]", problem, maxsplit=1)[0]


def run_platform_check(params):
    """Returns (result, failure message or None)."""
    settings = params.get("settings") or {}
    scopes = params.get("scopes") or ["common"]
    result = {"changed": False, "checked": list(scopes), "warnings": []}
    held = [key for key in SECRET_OPTIONS if key in settings]
    if held:
        return result, (f"settings: must not hold {', '.join(held)}: give {', '.join(OWN_OPTIONS)} as this module's "
                        "own options, whose passwords and keys are kept out of its logs")
    settings = dict(settings, **{key: params[key] for key in OWN_OPTIONS if params.get(key) is not None})
    typed, problems = _typed(settings)
    try:
        found, result["warnings"] = inventory_problems(typed, scopes, params.get("shared_server_count"))
    except SpecError as error:
        return result, str(error)
    # An option Ansible's conversion refused is reported once, in its words.
    refused = {_top(problem) for problem in problems}
    problems += [problem for problem in found if _top(problem) not in refused]
    if not result["warnings"]:
        del result["warnings"]
    if not problems:
        return result, None
    message = (f"Inventory check failed ({', '.join(scopes)}): {len(problems)} problem(s): " + "; ".join(problems)
               + ". Fix them in inventories/<env>/group_vars (docs/configuration.md); nothing was changed.")
    return result, redact_text(message, secrets_in(typed) + secrets_in(settings))
