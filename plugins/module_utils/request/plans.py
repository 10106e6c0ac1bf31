# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant plans (`odoo_saas_plans`): resources, quota, Odoo workers, storage, database strategy."""

from __future__ import annotations

import hashlib

import re
from dataclasses import dataclass

from . import egress, quantity
from ..errors import SpecError, shown

STRATEGIES = ("shared", "dedicated")
PLAN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}\Z")
SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]{0,62}\Z")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}\Z")
# A misspelt key would otherwise be ignored silently and the plan get a default instead.
PLAN_KEYS = ("db_strategy", "replicas", "workers", "cpu", "memory", "storage", "db_connection_limit", "quota",
             "db_storage", "db_resources", "postgresql_settings", "egress", "extra_egress", "backups")
BACKUP_KEYS = ("hour", "keep_daily", "keep_weekly", "keep_monthly", "keep_final_days")
QUOTA_KEYS = ("cpu", "memory", "pods", "storage")
DB_RESOURCE_KEYS = ("cpu", "memory")


@dataclass(frozen=True)
class Quota:
    cpu: str
    memory: str
    pods: int
    storage: str


@dataclass(frozen=True)
class BackupPolicy:
    """When a plan's tenants are backed up and which backups are kept (Odoo.sh's defaults): the
    newest of each of the last keep_daily days, keep_weekly ISO weeks and keep_monthly months
    that have a backup (request/retention.py)."""

    hour: int = 2  # UTC; each tenant's minute in the hour comes from its name, spreading a server's dumps
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 3
    keep_final_days: int = 30  # a removed tenant's final backup: it can be undeleted until then

    def minute_for(self, tenant: str) -> int:
        """The tenant's minute in the hour: stable, and spread evenly over a server's tenants."""
        return int(hashlib.sha256(tenant.encode()).hexdigest()[:8], 16) % 60

    def schedule_for(self, tenant: str) -> str:
        """The tenant's CronJob schedule (UTC): daily at the plan's hour, its own minute."""
        return f"{self.minute_for(tenant)} {self.hour} * * *"

    def retention_text(self) -> str:
        """The policy as the scheduled Job's program reads it (ODOO_SAAS_RETENTION)."""
        return f"daily={self.keep_daily},weekly={self.keep_weekly},monthly={self.keep_monthly}"


def parse_retention(text: str, field: str) -> BackupPolicy:
    """BackupPolicy.retention_text read back; SpecError naming `field` otherwise."""
    values = {}
    for item in (text or "").split(","):
        key, _sep, value = item.partition("=")
        if key not in ("daily", "weekly", "monthly") or not value.isdigit():
            raise SpecError(field, f"{text!r} is not daily=N,weekly=N,monthly=N")
        values[f"keep_{key}"] = int(value)
    if len(values) != 3:
        raise SpecError(field, f"{text!r} is not daily=N,weekly=N,monthly=N")
    return BackupPolicy(**values)


@dataclass(frozen=True)
class Plan:
    name: str
    db_strategy: str
    replicas: int
    workers: int
    cpu: str
    memory: str
    storage: str
    db_connection_limit: int
    quota: Quota
    db_storage: str = "10Gi"
    db_cpu: str = "1"
    db_memory: str = "1Gi"
    postgresql_settings: tuple = ()
    egress: tuple | None = None  # instead of the platform's allowlist (None: the platform's)
    extra_egress: tuple = ()  # added to whichever allowlist applies
    backups: BackupPolicy = BackupPolicy()


def _quantity(raw, key, field, default=None):
    value = raw.get(key, default)
    if value is None:
        raise SpecError(f"{field}.{key}", "is required (a Kubernetes quantity such as '500m', '2' or '4Gi')")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not quantity.is_plain(str(value)):
        raise SpecError(f"{field}.{key}", f"{shown(value)} is not a Kubernetes quantity (such as '500m', '2' or '4Gi')")
    return str(value)


def _integer(raw, key, field, minimum, maximum, default=None):
    value = raw.get(key, default)
    if isinstance(value, str) and WHOLE_NUMBER.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{field}.{key}", f"must be a whole number from {minimum} to {maximum}, got {shown(value)}")
    if not minimum <= value <= maximum:
        raise SpecError(f"{field}.{key}", f"must be from {minimum} to {maximum}, got {value}")
    return value


def _backup_policy(raw, field):
    """The plan's `backups` mapping (every key optional) as a BackupPolicy."""
    settings = raw.get("backups")
    if settings is None:
        return BackupPolicy()
    field = f"{field}.backups"
    if not isinstance(settings, dict):
        raise SpecError(field, f"must be a mapping with any of {', '.join(BACKUP_KEYS)}")
    _known_keys(settings, BACKUP_KEYS, field)
    defaults = BackupPolicy()
    return BackupPolicy(
        hour=_integer(settings, "hour", field, 0, 23, defaults.hour),
        keep_daily=_integer(settings, "keep_daily", field, 1, 366, defaults.keep_daily),
        keep_weekly=_integer(settings, "keep_weekly", field, 0, 520, defaults.keep_weekly),
        keep_monthly=_integer(settings, "keep_monthly", field, 0, 240, defaults.keep_monthly),
        keep_final_days=_integer(settings, "keep_final_days", field, 1, 3650, defaults.keep_final_days),
    )


def _settings(raw, field):
    settings = raw.get("postgresql_settings") or {}
    if not isinstance(settings, dict):
        raise SpecError(f"{field}.postgresql_settings", "must be a mapping of PostgreSQL setting names to values")
    pairs = []
    for name, value in sorted(settings.items()):
        if not SETTING_NAME.match(str(name)):
            raise SpecError(f"{field}.postgresql_settings", f"{shown(name)} is not a PostgreSQL setting name "
                                                            "(lower-case letters, digits, '_' and '.')")
        text = str(value)
        if not re.match(r"^[A-Za-z0-9._:-]{1,64}\Z", text):
            raise SpecError(f"{field}.postgresql_settings.{name}",
                            f"{shown(text)} is not a plain setting value (up to 64 letters, digits, '.', '_', ':' or '-')")
        pairs.append((str(name), text))
    return tuple(pairs)


def _known_keys(raw, allowed, field):
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise SpecError(field, f"unknown key {shown(unknown[0])}; allowed: {', '.join(allowed)}")


def load_plan(name, raw, field):
    if not isinstance(raw, dict):
        raise SpecError(field, f"must be a mapping of plan settings ({', '.join(PLAN_KEYS)})")
    _known_keys(raw, PLAN_KEYS, field)
    strategy = raw.get("db_strategy")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise SpecError(f"{field}.db_strategy", f"must be one of {', '.join(STRATEGIES)}, got {shown(strategy)}")
    quota_raw = raw.get("quota")
    if not isinstance(quota_raw, dict):
        raise SpecError(f"{field}.quota", "is required: a mapping with cpu, memory, pods and storage")
    _known_keys(quota_raw, QUOTA_KEYS, f"{field}.quota")
    quota = Quota(
        cpu=_quantity(quota_raw, "cpu", f"{field}.quota"),
        memory=_quantity(quota_raw, "memory", f"{field}.quota"),
        pods=_integer(quota_raw, "pods", f"{field}.quota", 1, 1000),
        storage=_quantity(quota_raw, "storage", f"{field}.quota"),
    )
    db_resources = raw.get("db_resources") or {}
    if not isinstance(db_resources, dict):
        raise SpecError(f"{field}.db_resources", "must be a mapping with cpu and memory (Kubernetes quantities)")
    _known_keys(db_resources, DB_RESOURCE_KEYS, f"{field}.db_resources")
    plan = Plan(
        name=name,
        db_strategy=strategy,
        replicas=_integer(raw, "replicas", field, 1, 20, 1),
        workers=_integer(raw, "workers", field, 0, 64, 0),
        cpu=_quantity(raw, "cpu", field),
        memory=_quantity(raw, "memory", field),
        storage=_quantity(raw, "storage", field),
        db_connection_limit=_integer(raw, "db_connection_limit", field, 1, 1000, 20),
        quota=quota,
        db_storage=_quantity(raw, "db_storage", field, "10Gi"),
        db_cpu=_quantity(db_resources, "cpu", f"{field}.db_resources", "1"),
        db_memory=_quantity(db_resources, "memory", f"{field}.db_resources", "1Gi"),
        postgresql_settings=_settings(raw, field),
        egress=None if raw.get("egress") is None else egress.load_rules(raw["egress"], f"{field}.egress"),
        extra_egress=egress.load_rules(raw.get("extra_egress") or [], f"{field}.extra_egress"),
        backups=_backup_policy(raw, field),
    )
    return plan


def load_plans(raw, field="plans"):
    """Validate the whole `odoo_saas_plans` mapping; returns {name: Plan}."""
    if not isinstance(raw, dict) or not raw:
        raise SpecError(field, "must be a non-empty mapping of plan names to plan settings (odoo_saas_plans)")
    plans = {}
    for name, plan_raw in raw.items():
        if not isinstance(name, str) or not PLAN_NAME.match(name):
            raise SpecError(field, f"plan name {shown(name)} must be lower-case letters, digits, '-' or '_', "
                                   "starting with a letter, at most 31 characters")
        plans[name] = load_plan(name, plan_raw, f"{field}.{name}")
    return plans
