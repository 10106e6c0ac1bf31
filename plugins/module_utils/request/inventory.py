# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An inventory's platform settings checked before a playbook touches anything, by the same
validation the modules run (spec, plans, connections), plus the few rules that only an
inventory has: its environment, and its shared servers named in order by their count.

Problems name the inventory variable: a module option `x` is the variable `odoo_saas_x`
(group_vars/all/platform.yml's odoo_saas_module_defaults maps them one to one)."""

from __future__ import annotations

from ..engines.connections import ledger_connection, shared_servers
from ..errors import SpecError, shown
from .plan_fit import plan_problems
from .plans import load_plans
from .backup_settings import load_backup_settings
from .spec import load_platform

ENVIRONMENTS = ("local", "dev", "staging", "prod")
VARIABLE_PREFIX = "odoo_saas_"
SERVER_PREFIX = "postgres-shared-"
SCOPES = ("common", "platform")


def variable(field):
    """The inventory variable (with its path inside) that holds a module option's field."""
    return VARIABLE_PREFIX + field


def _problem(error):
    return f"{variable(error.field)}: {error.message}"


def _count(value):
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError("shared_server_count", f"must be a whole number of at least 1, got {shown(value)}")
    return value


def common_problems(settings, shared_server_count):
    """Environment, domain, namespaces, capacity, plans, network and image settings."""
    problems = []
    environment = settings.get("environment")
    if environment not in ENVIRONMENTS:
        problems.append(f"{variable('environment')}: must be one of {', '.join(ENVIRONMENTS)}, got {shown(environment)}")
    kubeconfig = settings.get("kubeconfig")
    if not isinstance(kubeconfig, str) or not kubeconfig:
        problems.append(f"{variable('kubeconfig')}: must be the path of the automation's kubeconfig, got {shown(kubeconfig)}")
    checks = [lambda: _count(shared_server_count), lambda: load_plans(settings.get("plans")), lambda: load_platform(settings)]
    platform = None
    for check in checks:
        try:
            platform = check()
        except SpecError as error:
            # load_platform stops at its first problem, which may be the plans' again.
            if _problem(error) not in problems:
                problems.append(_problem(error))
    warnings = []
    if not problems:
        warnings = [f"{VARIABLE_PREFIX}{problem} (tenants on this plan cannot be provisioned or changed)"
                    for problem in plan_problems(platform.plans)]
    return problems, warnings


def platform_problems(settings, shared_server_count):
    """The ledger's and the shared servers' connection settings (nothing is connected to)."""
    problems = []
    try:
        ledger_connection(settings)
    except SpecError as error:
        problems.append(_problem(error))
    try:
        load_backup_settings(settings)
    except SpecError as error:
        problems.append(_problem(error))
    try:
        names = list(shared_servers(settings))
    except SpecError as error:
        problems.append(_problem(error))
        return problems
    try:
        wanted = [f"{SERVER_PREFIX}{number}" for number in range(1, _count(shared_server_count) + 1)]
    except SpecError:
        return problems  # reported with the common settings
    if names != wanted:
        problems.append(f"{variable('shared_servers')}: must list, in order, {', '.join(wanted)} "
                        f"({variable('shared_server_count')} is {len(wanted)}); it lists {', '.join(names) or 'none'}")
    return problems


def inventory_problems(settings, scopes, shared_server_count):
    """Returns (problems, warnings) for the scopes asked for."""
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise SpecError("scopes", f"{', '.join(map(shown, unknown))} not among {', '.join(SCOPES)}")
    problems, warnings = [], []
    if "common" in scopes:
        problems, warnings = common_problems(settings, shared_server_count)
    if "platform" in scopes:
        problems += platform_problems(settings, shared_server_count)
    return problems, warnings
