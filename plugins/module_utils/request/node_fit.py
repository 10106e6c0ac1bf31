# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a plan's pods fit any node at all, checked before anything is written: the pods
that must share a node together (web replicas and cron), each other pod alone.

Only the nodes' allocatable room counts, not what other pods already request: that changes
by the minute (and the scheduler says so, with the wait failing on Unschedulable); a pod
larger than every node can never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from . import quantity
from ..errors import SpecError
from ..manifests.base import CRON, DATABASE, DB_INIT, WEB, bytes_text, cpu_text
from ..manifests.quota import budget

NO_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")


def schedulable(node):
    """A node new pods may go to: not cordoned, no taint that repels pods without tolerations."""
    spec = node.get("spec") or {}
    if spec.get("unschedulable"):
        return False
    return not any(taint.get("effect") in NO_SCHEDULE_EFFECTS for taint in spec.get("taints") or [])


def _allocatable(node, resource):
    value = quantity.parse(((node.get("status") or {}).get("allocatable") or {}).get(resource, "0"))
    return Fraction(value) if value is not None else Fraction(0)


def _fields(plan_field, group):
    if group.components == (DATABASE,):
        return f"{plan_field}.db_resources.cpu", f"{plan_field}.db_resources.memory"
    return f"{plan_field}.cpu", f"{plan_field}.memory"


@dataclass(frozen=True)
class PodGroup:
    """Pods that must run on one node at the same time, and what they request together."""

    components: tuple
    what: str
    cpu: Fraction
    memory: Fraction


def pod_groups(plan, db_strategy):
    """The web replicas and the cron pod run at once on one node (they share the ReadWriteOnce
    filestore, hence the pods' required affinity); the init Job's pod runs there before them;
    a dedicated server may go to any node."""
    costs = {cost.component: cost for cost in budget(plan, db_strategy)}
    web, cron = costs[WEB], costs[CRON]
    groups = [
        PodGroup((WEB, CRON), f"{web.count} web pod(s) and its cron pod, which share one node (the filestore volume "
                              "is ReadWriteOnce),", web.count * web.cpu + cron.cpu, web.count * web.memory + cron.memory),
        PodGroup((DB_INIT,), "database initialisation pod", costs[DB_INIT].cpu, costs[DB_INIT].memory),
    ]
    if DATABASE in costs:
        groups.append(PodGroup((DATABASE,), "database pod", costs[DATABASE].cpu, costs[DATABASE].memory))
    return groups


def check_plan_fits_nodes(plan, db_strategy, nodes, plan_field):
    """Raises SpecError naming the plan setting when pods the plan runs together on one node
    need more than any schedulable node holds. `nodes`: the Node objects as listed."""
    candidates = [node for node in nodes if schedulable(node)]
    if not candidates:
        raise SpecError(plan_field, f"none of the cluster's {len(nodes)} nodes takes new pods (all cordoned or "
                                    "tainted NoSchedule): uncordon or add a node; nothing was changed")
    for group in sorted(pod_groups(plan, db_strategy), key=lambda g: (g.cpu, g.memory), reverse=True):
        if any(_allocatable(n, "cpu") >= group.cpu and _allocatable(n, "memory") >= group.memory for n in candidates):
            continue
        most_cpu = max(candidates, key=lambda n: _allocatable(n, "cpu"))
        most_memory = max(candidates, key=lambda n: _allocatable(n, "memory"))
        cpu_field, memory_field = _fields(plan_field, group)
        too_much_cpu = not any(_allocatable(n, "cpu") >= group.cpu for n in candidates)
        field = cpu_field if too_much_cpu else memory_field
        raise SpecError(field, (
            f"plan {plan.name!r}: its {group.what} request {cpu_text(group.cpu)} cpu and "
            f"{bytes_text(group.memory)} memory, more than any of the {len(candidates)} schedulable nodes can hold "
            f"(at most {cpu_text(_allocatable(most_cpu, 'cpu'))} cpu on {most_cpu['metadata']['name']}, "
            f"{bytes_text(_allocatable(most_memory, 'memory'))} memory on {most_memory['metadata']['name']}, "
            "allocatable): lower the plan's "
            f"{'cpu' if too_much_cpu else 'memory'}{' or replicas' if group.components == (WEB, CRON) else ''} "
            "or add a larger node; nothing was changed"))
