# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of the platform options (doc fragment odoo_saas.kit.platform)."""

from __future__ import annotations

from ..request.egress import DEFAULT_POD_CIDR, DEFAULT_SERVICE_CIDR
from ..request.spec import POSTGRES_IMAGE

PLATFORM_ARGS = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    ledger=dict(type="dict", options=dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=5432),
        database=dict(type="str", default="saas_ledger"),
        user=dict(type="str", required=True),
        password=dict(type="str", required=True, no_log=True),
        sslmode=dict(type="str", default="prefer"),
    )),
    shared_servers=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        host=dict(type="str", required=True),
        port=dict(type="int", default=5432),
        admin_user=dict(type="str", required=True),
        admin_password=dict(type="str", required=True, no_log=True),
        cluster_host=dict(type="str"),
        cluster_port=dict(type="int", default=5432),
        sslmode=dict(type="str", default="prefer"),
    )),
    environment=dict(type="str", default="unset"),
    base_domain=dict(type="str"),
    platform_namespace=dict(type="str", default="saas-system"),
    plans=dict(type="dict"),
    ingress_class=dict(type="str", default="traefik"),
    ingress_namespace=dict(type="str", default="traefik"),
    cert_issuer=dict(type="str", default="selfsigned"),
    storage_class=dict(type="str", default="microk8s-hostpath"),
    shared_server_capacity=dict(type="int", default=50),
    backup_dir=dict(type="path", default="/var/backups/odoo-saas"),
    deletion_protection=dict(type="bool", default=False),
    automation_account=dict(type="str", default="odoo-saas-automation"),
    pod_cidr=dict(type="str", default=DEFAULT_POD_CIDR),
    service_cidr=dict(type="str", default=DEFAULT_SERVICE_CIDR),
    # Entries are validated by the core (egress.load_rules), which names the wrong field.
    egress=dict(type="list", elements="dict"),
    egress_except=dict(type="list", elements="str", default=[]),
    postgres_image=dict(type="str", default=POSTGRES_IMAGE),
    # Fields are validated by the core (request/backup_settings), which names the wrong one.
    backup_target=dict(type="dict", options=dict(
        kind=dict(type="str", choices=["s3", "directory"], required=True),
        endpoint=dict(type="str"),
        bucket=dict(type="str"),
        prefix=dict(type="str", default=""),
        region=dict(type="str", default=""),
        access_key=dict(type="str", no_log=True),
        secret_key=dict(type="str", no_log=True),
        insecure=dict(type="bool", default=False),
        egress_cidrs=dict(type="list", elements="str", default=[]),
        claim=dict(type="str"),
    )),
    backup_encryption=dict(type="dict", options=dict(
        recipient=dict(type="str"),
        identity=dict(type="str", no_log=True),
    )),
    backup_image=dict(type="str"),
)


def platform_args(**extra):
    spec = dict(PLATFORM_ARGS)
    spec.update(extra)
    return spec
