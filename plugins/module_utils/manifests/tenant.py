# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's desired Kubernetes objects: pure functions, tenant spec in, plain dicts out.

The list is in apply order (namespace and its fences first, workloads after what they use)
and deterministic: the same input gives byte-identical YAML, so it diffs cleanly and is
checked against golden files. The pieces live in manifests_*.py, one concern each.
"""

from __future__ import annotations

import json

from .backup_job import scheduled_backup_objects
from .base import (
    CRON_DEPLOYMENT, DEDICATED, FILESTORE_CLAIM, POSTGRES, POSTGRES_PORT, TENANT_LABEL, WEB_DEPLOYMENT, DatabaseTarget,
    TenantSecrets, check_inputs,
)
from .isolation import automation_binding as _automation_binding
from .isolation import namespace, network_policies, service_account
from .isolation import shared_server_policy as _shared_server_policy
from .odoo import cron_deployment, filestore_claim, ingress, init_job, service, web_deployment
from .odoo_config import config_secret, db_secret, odoo_conf, web_db_maxconn
from .postgres import dedicated_objects
from .quota import limit_range, resource_quota
from ..request.spec import Platform, TenantSpec

__all__ = [
    "DatabaseTarget", "TenantSecrets", "TENANT_LABEL", "FILESTORE_CLAIM", "tenant_objects", "access_objects", "automation_binding",
    "workload_names", "shared_server_policy", "web_db_maxconn",
]


def _plain(objects):
    """Independent plain-JSON copies: no object shares a nested dict or list with another
    (or with this module's constants), so callers may change them freely."""
    return json.loads(json.dumps(objects))


# Every kind tenant_objects may build, whatever the strategy and the platform (a dedicated
# server, scheduled backups): what a fleet run lists up front (tests/unit/test_manifests.py
# holds it equal to what the builders make).
TENANT_KINDS = (
    ("v1", "Namespace"), ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("v1", "ResourceQuota"), ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("v1", "ServiceAccount"), ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"), ("apps/v1", "Deployment"), ("networking.k8s.io/v1", "Ingress"), ("batch/v1", "CronJob"),
)


def tenant_objects(spec: TenantSpec, platform: Platform, database: DatabaseTarget, secrets: TenantSecrets, *,
                   suspended: bool = False) -> list[dict]:
    """Every object of one tenant, in apply order. `suspended` only sets the workloads'
    replicas to 0. Raises SpecError for inputs that would give a broken manifest."""
    check_inputs(spec, database, secrets)
    conf = odoo_conf(spec, database, secrets)
    objects = [
        *access_objects(spec, platform),
        resource_quota(spec),
        limit_range(spec),
        *network_policies(spec, platform, database),
        service_account(spec),
        db_secret(spec, database, secrets),
        config_secret(spec, conf),
        filestore_claim(spec, platform),
    ]
    if spec.db_strategy == DEDICATED:
        objects += dedicated_objects(spec, platform, secrets, suspended)
    objects += [
        init_job(spec, database),
        web_deployment(spec, conf, suspended),
        cron_deployment(spec, conf, suspended),
        service(spec),
        ingress(spec, platform),
    ]
    if platform.backups is not None:
        objects += scheduled_backup_objects(spec, platform.backups, database.namespace, POSTGRES_PORT,
                                            platform.closed_ranges, suspended)
    return _plain(objects)


def access_objects(spec: TenantSpec, platform: Platform) -> list[dict]:
    """The namespace and the RoleBinding that lets the automation work inside it: applied
    before anything in the namespace is read or written (the first objects of tenant_objects)."""
    return _plain([namespace(spec), _automation_binding(spec, platform)])


def automation_binding(tenant, platform: Platform) -> dict:
    """The automation's RoleBinding in a tenant's namespace; `tenant` is a spec or a ledger
    record (its name and namespace are what matter)."""
    return _plain(_automation_binding(tenant, platform))


def workload_names(spec: TenantSpec) -> list[tuple[str, str]]:
    """(kind, name) of what suspension scales to 0, in the order to stop them (Odoo before
    its database); resume in reverse order."""
    names = [("Deployment", WEB_DEPLOYMENT), ("Deployment", CRON_DEPLOYMENT)]
    if spec.db_strategy == DEDICATED:
        names.append(("StatefulSet", POSTGRES))
    return names


def shared_server_policy(server_namespace: str, platform: Platform) -> dict:
    """NetworkPolicy for a postgres-shared-N namespace (see manifests_isolation)."""
    return _plain(_shared_server_policy(server_namespace, platform))
