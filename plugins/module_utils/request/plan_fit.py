# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a plan can run at all: each Odoo process's memory share, the database connection
pools and the plan's own quota. Checked for the plan a request uses (and the database strategy
it picks), so an impossible plan is refused before anything is touched, without stopping the
tenants of other plans; the ledger module warns of every impossible plan (plan_problems)."""

from __future__ import annotations

from ..errors import SpecError
from ..manifests.odoo_config import connection_problem, memory_problem
from ..manifests.quota import quota_shortfalls


def check_plan_fits(plan, field, db_strategy=None):
    """Raise SpecError naming the plan key at fault (`<field>.memory`, `<field>.quota.pods`,
    ...) when the plan cannot run with `db_strategy` (default: the plan's own)."""
    memory = memory_problem(plan)
    if memory:
        raise SpecError(f"{field}.memory", memory)
    connections = connection_problem(plan, db_strategy)
    if connections:
        raise SpecError(f"{field}.{connections[0]}", connections[1])
    shortfalls = quota_shortfalls(plan, db_strategy)
    if shortfalls:
        strategy = db_strategy or plan.db_strategy
        raise SpecError(f"{field}.quota.{shortfalls[0][0]}",
                        f"too small for what the plan runs with a {strategy} database: "
                        + "; ".join(problem for _key, problem in shortfalls))


def plan_problems(plans, field="plans"):
    """The refusal of each plan that cannot run, as text (for warnings)."""
    problems = []
    for name, plan in sorted(plans.items()):
        try:
            check_plan_fits(plan, f"{field}.{name}")
        except SpecError as error:
            problems.append(str(error))
    return problems


def check_strategy_fits(plan, db_strategy):
    """A request may put a plan's tenant on the other database strategy; refuse it (naming
    `db_strategy`) when the plan does not fit that way."""
    if db_strategy == plan.db_strategy:
        return
    try:
        check_plan_fits(plan, f"plans.{plan.name}", db_strategy)
    except SpecError as error:
        raise SpecError("db_strategy", f"plan {plan.name!r} cannot run with a {db_strategy} database: "
                                       f"{error.field} {error.message}") from None
