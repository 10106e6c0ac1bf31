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

# Ansible's own messages name the option as "argument 'x'", or "found in 'x'" for a field inside one.
_OPTION = re.compile(r"found in '?(\w+)|argument '(\w+)'|^(\w+)\. Supported parameters")


def _typed(settings):
    """The settings as the modules' argument spec converts them, and its refusals by variable."""
    result = ArgumentSpecValidator(platform_args()).validate(dict(settings))
    problems = []
    for error in result.errors:
        found = _OPTION.search(error.msg)
        option = next((group for group in found.groups() if group), None) if found else None
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
