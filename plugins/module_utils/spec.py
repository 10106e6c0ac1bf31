# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant request validated into an immutable value, before anything is touched."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from . import naming
from .errors import SpecError
from .plans import STRATEGIES, Plan, load_plans

STATES = ("present", "suspended", "absent")
ODOO_VERSIONS = ("16.0", "17.0", "18.0", "19.0")
IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/:@-]{0,254})$")
MAX_DOMAINS = 20


@dataclass(frozen=True)
class Platform:
    """Where tenants go: the settings a playbook passes once through module_defaults."""

    environment: str
    base_domain: str
    platform_namespace: str
    plans: dict = field(hash=False)
    ingress_class: str = "traefik"
    ingress_namespace: str = "traefik"
    cert_issuer: str = "selfsigned"
    storage_class: str = "microk8s-hostpath"
    shared_server_capacity: int = 50
    backup_dir: str = "/var/backups/odoo-saas"
    deletion_protection: bool = False


@dataclass(frozen=True)
class TenantSpec:
    name: str
    state: str
    plan: Plan
    db_strategy: str
    hosts: tuple
    odoo_version: str
    image: str

    @property
    def namespace(self):
        return naming.namespace_for(self.name)

    @property
    def database(self):
        return naming.database_for(self.name)

    @property
    def role(self):
        return naming.role_for(self.name)

    @property
    def primary_host(self):
        return self.hosts[0]

    @property
    def websocket_port(self):
        """Odoo serves /websocket on 8072 only in multi-process mode (workers > 0)."""
        return 8072 if self.plan.workers > 0 else 8069


def load_platform(params):
    """Platform settings from module parameters (the `platform` action group's options)."""
    base_domain = params.get("base_domain")
    if not base_domain or not naming.DNS_NAME_PATTERN.match(str(base_domain)):
        raise SpecError("base_domain", f"{base_domain!r} is not a DNS name such as 'saas.example.com'")
    platform_namespace = params.get("platform_namespace") or "saas-system"
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", platform_namespace):
        raise SpecError("platform_namespace", f"{platform_namespace!r} is not a namespace name")
    capacity = params.get("shared_server_capacity", 50)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 1000:
        raise SpecError("shared_server_capacity", f"must be a whole number from 1 to 1000, got {capacity!r}")
    return Platform(
        environment=params.get("environment") or "unset",
        base_domain=base_domain,
        platform_namespace=platform_namespace,
        plans=load_plans(params.get("plans"), "plans"),
        ingress_class=params.get("ingress_class") or "traefik",
        ingress_namespace=params.get("ingress_namespace") or "traefik",
        cert_issuer=params.get("cert_issuer") or "selfsigned",
        storage_class=params.get("storage_class") or "microk8s-hostpath",
        shared_server_capacity=capacity,
        backup_dir=os.path.normpath(params.get("backup_dir") or "/var/backups/odoo-saas"),
        deletion_protection=bool(params.get("deletion_protection")),
    )


def _hosts(name, domains, platform):
    hosts = [f"{name}.{platform.base_domain}"]
    if domains is None:
        domains = []
    if not isinstance(domains, (list, tuple)):
        raise SpecError("domains", "must be a list of host names")
    if len(domains) > MAX_DOMAINS:
        raise SpecError("domains", f"at most {MAX_DOMAINS} extra host names, got {len(domains)}")
    for index, domain in enumerate(domains):
        host = naming.check_host(str(domain).strip().lower() if isinstance(domain, str) else domain, f"domains[{index}]")
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def build_spec(params, platform, existing_plan=None):
    """Validate a tenant request. `existing_plan` is the plan the ledger records for the
    tenant, used when the request names none (suspend, resume, change of domains)."""
    name = naming.check_tenant_name(params.get("name"))
    state = params.get("state") or "present"
    if state not in STATES:
        raise SpecError("state", f"must be one of {', '.join(STATES)}, got {state!r}")
    plan_name = params.get("plan") or existing_plan
    if not plan_name:
        raise SpecError("plan", f"is required for a new tenant; one of: {', '.join(sorted(platform.plans))}")
    if plan_name not in platform.plans:
        raise SpecError("plan", f"unknown plan {plan_name!r}; one of: {', '.join(sorted(platform.plans))}")
    plan = platform.plans[plan_name]
    strategy = params.get("db_strategy") or "auto"
    if strategy not in ("auto",) + STRATEGIES:
        raise SpecError("db_strategy", f"must be one of auto, {', '.join(STRATEGIES)}, got {strategy!r}")
    if strategy == "auto":
        strategy = plan.db_strategy
    version = str(params.get("odoo_version") or "18.0")
    if version not in ODOO_VERSIONS:
        raise SpecError("odoo_version", f"must be one of {', '.join(ODOO_VERSIONS)}, got {version!r}")
    image = params.get("image") or f"odoo:{version}"
    if not IMAGE.match(image):
        raise SpecError("image", f"{image!r} is not an image reference such as 'odoo:18.0' or 'localhost:32000/odoo:18.0-custom'")
    return TenantSpec(
        name=name,
        state=state,
        plan=plan,
        db_strategy=strategy,
        hosts=_hosts(name, params.get("domains"), platform),
        odoo_version=version,
        image=image,
    )
