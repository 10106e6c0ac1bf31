# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a tenant's pods cost (resources per component), and the quota that bounds them.

One table, `budget()`, sizes every pod the manifests create; the container resources, the
ResourceQuota, the LimitRange and `quota_shortfalls()` all read it, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .base import (
    CPU_BURST, CRON, DATABASE, DB_INIT, DEDICATED, WEB, base_labels, bytes_text, cpu_text, metadata,
)
from ..request.quantity import exact as quantity

# Containers nobody sized (a debugging pod, a one-off job) get these, capped by the quota.
DEFAULT_CPU_REQUEST = Fraction(1, 10)
DEFAULT_CPU_LIMIT = Fraction(1)
DEFAULT_MEMORY = Fraction(512 * 2**20)
# Claims beyond the tenant's own, for a restore or a strategy migration running beside them.
SPARE_CLAIMS = 1


@dataclass(frozen=True)
class PodCost:
    component: str
    count: int
    cpu: Fraction  # request; the limit is CPU_BURST times this
    memory: Fraction  # request = limit: memory is not compressible

    def resources(self):
        return {
            "requests": {"cpu": cpu_text(self.cpu), "memory": bytes_text(self.memory)},
            "limits": {"cpu": cpu_text(self.cpu * CPU_BURST), "memory": bytes_text(self.memory)},
        }


def budget(plan, db_strategy=None):
    """Every pod a tenant on this plan runs at once (web replicas, cron, the init Job and
    the dedicated server). Deployments use Recreate, so a rollout never adds a pod."""
    strategy = db_strategy or plan.db_strategy
    cpu, memory = quantity(plan.cpu), quantity(plan.memory)
    costs = [
        PodCost(WEB, plan.replicas, cpu, memory),
        PodCost(CRON, 1, cpu, memory),
        PodCost(DB_INIT, 1, cpu, memory),
    ]
    if strategy == DEDICATED:
        costs.append(PodCost(DATABASE, 1, quantity(plan.db_cpu), quantity(plan.db_memory)))
    return costs


def cost(plan, component, db_strategy=None):
    return next(c for c in budget(plan, db_strategy) if c.component == component)


def claims(plan, db_strategy=None):
    """(number, total storage) of the PersistentVolumeClaims a tenant owns."""
    if (db_strategy or plan.db_strategy) == DEDICATED:
        return 2, quantity(plan.storage) + quantity(plan.db_storage)
    return 1, quantity(plan.storage)


def quota_shortfalls(plan, db_strategy: str | None = None) -> list[tuple[str, str]]:
    """(quota key, problem) for each quota line too small for everything the plan runs."""
    costs = budget(plan, db_strategy)
    storage = claims(plan, db_strategy)[1]
    needs = [
        ("cpu", "requests.cpu", sum(c.count * c.cpu for c in costs), quantity(plan.quota.cpu), cpu_text),
        ("memory", "requests.memory", sum(c.count * c.memory for c in costs), quantity(plan.quota.memory), bytes_text),
        ("pods", "pods", sum(c.count for c in costs), plan.quota.pods, str),
        ("storage", "requests.storage", storage, quantity(plan.quota.storage), bytes_text),
    ]
    return [(key, f"{line} needs {fmt(need)} but the quota allows {fmt(allowed)}")
            for key, line, need, allowed, fmt in needs if need > allowed]


def resource_quota(spec):
    quota = spec.plan.quota
    claim_count = claims(spec.plan, spec.db_strategy)[0]
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata(spec, "tenant-quota"),
        "spec": {"hard": {
            "requests.cpu": cpu_text(quantity(quota.cpu)),
            "limits.cpu": cpu_text(quantity(quota.cpu) * CPU_BURST),
            "requests.memory": bytes_text(quantity(quota.memory)),
            "limits.memory": bytes_text(quantity(quota.memory)),
            "pods": str(quota.pods),
            "requests.storage": bytes_text(quantity(quota.storage)),
            "persistentvolumeclaims": str(claim_count + SPARE_CLAIMS),
            # Tenants are reached through the Ingress only.
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }},
    }


def limit_range(spec):
    quota = spec.plan.quota
    max_cpu = quantity(quota.cpu) * CPU_BURST
    max_memory = quantity(quota.memory)
    memory = min(DEFAULT_MEMORY, max_memory)
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata(spec, "tenant-limits", base_labels(spec)),
        "spec": {"limits": [
            {
                "type": "Container",
                "default": {"cpu": cpu_text(min(DEFAULT_CPU_LIMIT, max_cpu)), "memory": bytes_text(memory)},
                "defaultRequest": {"cpu": cpu_text(min(DEFAULT_CPU_REQUEST, max_cpu)), "memory": bytes_text(memory)},
                "max": {"cpu": cpu_text(max_cpu), "memory": bytes_text(max_memory)},
            },
            {"type": "PersistentVolumeClaim", "max": {"storage": bytes_text(quantity(quota.storage))}},
        ]},
    }
