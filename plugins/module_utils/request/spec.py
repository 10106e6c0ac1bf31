# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant request validated into an immutable value, before anything is touched."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from . import egress, naming
from .backup_settings import BackupSettings, load_backup_settings
from .naming import DNS_LABEL, DNS_SUBDOMAIN
from ..errors import SpecError, shown
from .odoo_versions import DEFAULT_ODOO_VERSION, ODOO_VERSIONS
from .plan_fit import check_plan_fits, check_strategy_fits
from .plans import STRATEGIES, Plan, load_plans

STATES = ("present", "suspended", "absent")
# An image reference as the distribution spec's grammar has it: [registry[:port]/]path[:tag][@digest],
# each path component lower-case with single separators, so no '..' or '//'.
_REGISTRY = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_TAG = r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE = re.compile(rf"^(?:{_REGISTRY})?{_PATH}(?:{_TAG})?(?:{_DIGEST})?\Z")
IMAGE_MAX_LENGTH = 255
MAX_DOMAINS = 20
MAX_WAIT_TIMEOUT = 86400
# An exact build of the official image (tags <major>.<minor>-<debian release>): a mutable tag
# such as postgres:16 with IfNotPresent lets each node run whichever build it pulled first.
POSTGRES_IMAGE = "postgres:16.10-bookworm"
POSTGRES_MIN_MAJOR = 15


def _kubernetes_name(params, key, default, pattern=DNS_SUBDOMAIN, what="a Kubernetes object name"):
    """An optional platform setting that names a Kubernetes object (namespace, class, issuer)."""
    value = params.get(key) or default
    if not isinstance(value, str) or not pattern.match(value):
        raise SpecError(key, f"{shown(value)} is not {what}: lower-case letters, digits and '-', "
                             "starting and ending with a letter or digit")
    return value


def _backup_dir(params):
    value = params.get("backup_dir") or "/var/backups/odoo-saas"
    if not isinstance(value, str) or not os.path.isabs(value) or any(ord(char) < 32 for char in value):
        raise SpecError("backup_dir", f"must be an absolute directory path such as '/var/backups/odoo-saas', got {shown(value)}")
    return os.path.normpath(value)


def load_wait_timeout(params):
    """Seconds to wait for each step (the tenant module's wait_timeout)."""
    value = params.get("wait_timeout")
    if value is None:
        return 600
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WAIT_TIMEOUT:
        raise SpecError("wait_timeout", f"must be a whole number of seconds from 1 to {MAX_WAIT_TIMEOUT}, got {shown(value)}")
    return value


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
    automation_account: str = "odoo-saas-automation"
    pod_cidr: str = egress.DEFAULT_POD_CIDR
    service_cidr: str = egress.DEFAULT_SERVICE_CIDR
    egress: tuple = ()  # the platform's allowlist (EgressRule); a plan may replace or extend it
    egress_except: tuple = ()  # CIDRs no rule opens besides metadata, pods and services
    postgres_image: str = POSTGRES_IMAGE
    backups: BackupSettings | None = field(default=None, repr=False)  # None: no backup target configured

    @property
    def closed_ranges(self):
        return egress.closed_ranges(self.pod_cidr, self.service_cidr, self.egress_except)


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


def _postgres_image(params):
    """The dedicated servers' image: one exact build, so every node runs the same PostgreSQL."""
    value = params.get("postgres_image") or POSTGRES_IMAGE
    if not isinstance(value, str) or len(value) > IMAGE_MAX_LENGTH or not IMAGE.match(value):
        raise SpecError("postgres_image", f"{shown(value)} is not an image reference such as {POSTGRES_IMAGE!r}")
    tag = re.search(r":([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:@|\Z)", value.rsplit("/", 1)[-1])
    version = re.match(r"^([0-9]+)\.[0-9]+", tag.group(1)) if tag else None
    if "@" not in value and not version:
        raise SpecError("postgres_image", f"{shown(value)} does not name an exact PostgreSQL version: use a tag such as "
                                          f"{POSTGRES_IMAGE!r} (major.minor-debian) or a digest (@sha256:...)")
    if version and int(version.group(1)) < POSTGRES_MIN_MAJOR:
        raise SpecError("postgres_image", f"{shown(value)}: PostgreSQL {POSTGRES_MIN_MAJOR} or later is needed "
                                          "(the init script reads its values with psql's \\getenv)")
    if tag and "alpine" in tag.group(1):
        raise SpecError("postgres_image", f"{shown(value)}: use a Debian variant (such as {POSTGRES_IMAGE!r}); the "
                                          "Alpine images run PostgreSQL as uid 70, the pods as the Debian images' 999")
    if "@" not in value and not re.match(r"^[0-9]+\.[0-9]+-[a-z]+\Z", tag.group(1)):
        # postgres:16.10 follows the image's default Debian, which moves with each Debian
        # release: nodes would then run different glibc collations (and corrupt text indexes).
        raise SpecError("postgres_image", f"{shown(value)} names no Debian release: use a tag such as "
                                          f"{POSTGRES_IMAGE!r} (major.minor-release) or a digest (@sha256:...)")
    return value


def _egress(params, plans, pod_cidr, service_cidr):
    """The platform's allowlist and exceptions; every rule (the platform's and each plan's)
    must leave the closed ranges closed."""
    raw = params.get("egress")
    rules = egress.load_rules(egress.DEFAULT_RULES if raw is None else raw, "egress")
    excepted = egress.load_cidrs(params.get("egress_except"), "egress_except")
    closed = egress.closed_ranges(pod_cidr, service_cidr, excepted)
    for rule in (*rules, *(rule for plan in plans.values() for rule in (*(plan.egress or ()), *plan.extra_egress))):
        egress.check_rule(rule, closed)
    return rules, excepted


def load_platform(params):
    """Platform settings from module parameters (the `platform` action group's options)."""
    base_domain = params.get("base_domain")
    if not isinstance(base_domain, str) or not naming.DNS_NAME_PATTERN.match(base_domain):
        raise SpecError("base_domain", f"{shown(base_domain)} is not a lower-case DNS name such as 'saas.example.com'")
    capacity = params.get("shared_server_capacity", 50)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 1000:
        raise SpecError("shared_server_capacity", f"must be a whole number from 1 to 1000, got {shown(capacity)}")
    plans = load_plans(params.get("plans"), "plans")
    pod_cidr = egress.network(params.get("pod_cidr") or egress.DEFAULT_POD_CIDR, "pod_cidr")
    service_cidr = egress.network(params.get("service_cidr") or egress.DEFAULT_SERVICE_CIDR, "service_cidr")
    rules, excepted = _egress(params, plans, pod_cidr, service_cidr)
    return Platform(
        environment=_kubernetes_name(params, "environment", "unset", DNS_LABEL, "an environment name such as 'prod'"),
        base_domain=base_domain,
        platform_namespace=_kubernetes_name(params, "platform_namespace", "saas-system", DNS_LABEL, "a namespace name"),
        plans=plans,
        ingress_class=_kubernetes_name(params, "ingress_class", "traefik"),
        ingress_namespace=_kubernetes_name(params, "ingress_namespace", "traefik", DNS_LABEL, "a namespace name"),
        cert_issuer=_kubernetes_name(params, "cert_issuer", "selfsigned"),
        storage_class=_kubernetes_name(params, "storage_class", "microk8s-hostpath"),
        shared_server_capacity=capacity,
        backup_dir=_backup_dir(params),
        deletion_protection=bool(params.get("deletion_protection")),
        automation_account=_kubernetes_name(params, "automation_account", "odoo-saas-automation"),
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        egress=rules,
        egress_except=excepted,
        postgres_image=_postgres_image(params),
        backups=load_backup_settings(params),
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
    if not isinstance(state, str) or state not in STATES:
        raise SpecError("state", f"must be one of {', '.join(STATES)}, got {shown(state)}")
    plan_name = params.get("plan") or existing_plan
    if not plan_name:
        raise SpecError("plan", f"is required for a new tenant; one of: {', '.join(sorted(platform.plans))}")
    if not isinstance(plan_name, str) or plan_name not in platform.plans:
        raise SpecError("plan", f"unknown plan {shown(plan_name)}; one of: {', '.join(sorted(platform.plans))}")
    plan = platform.plans[plan_name]
    strategy = params.get("db_strategy") or "auto"
    if not isinstance(strategy, str) or strategy not in ("auto",) + STRATEGIES:
        raise SpecError("db_strategy", f"must be one of auto, {', '.join(STRATEGIES)}, got {shown(strategy)}")
    if strategy == "auto":
        strategy = plan.db_strategy
    if state != "absent":
        # Only the plan a request uses: one impossible plan in the inventory must not stop
        # every other tenant, and removing a tenant that could never run must still work.
        check_plan_fits(plan, f"plans.{plan.name}")
        check_strategy_fits(plan, strategy)
    version = str(params.get("odoo_version") or DEFAULT_ODOO_VERSION)
    if version not in ODOO_VERSIONS:
        raise SpecError("odoo_version", f"must be one of {', '.join(ODOO_VERSIONS)}, got {shown(params.get('odoo_version'))}")
    image = params.get("image") or f"odoo:{version}"
    if not isinstance(image, str) or len(image) > IMAGE_MAX_LENGTH or not IMAGE.match(image):
        raise SpecError("image", f"{shown(image)} is not an image reference such as 'odoo:18.0' or "
                                 "'localhost:32000/odoo:18.0-custom' (at most 255 characters)")
    return TenantSpec(
        name=name,
        state=state,
        plan=plan,
        db_strategy=strategy,
        hosts=_hosts(name, params.get("domains"), platform),
        odoo_version=version,
        image=image,
    )
