# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's fences: its Namespace (Pod Security `restricted`), the RoleBinding that is the
automation's only access inside it, NetworkPolicies, a ServiceAccount without a token, and the
policy that opens a shared server to tenants."""

from __future__ import annotations

from ..request.egress import ip_block, rules_for
from .base import (
    DEDICATED, HTTP_PORT, MANAGED_BY, NAME_LABEL, NAMESPACE_NAME_LABEL, ODOO, PART_OF, PLAN_LABEL, POSTGRES_PORT,
    POSTGRESQL, ROLE_LABEL, ROLE_TENANT, SERVICE_ACCOUNT, WEB, WEBSOCKET_PORT, COMPONENT_LABEL, base_labels,
    metadata,
)

POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "warn", "audit")
    for suffix, value in (("", "restricted"), ("-version", "latest"))
}
ODOO_PODS = {"matchLabels": {NAME_LABEL: ODOO}}  # web, cron and the init Job
WEB_PODS = {"matchLabels": {NAME_LABEL: ODOO, COMPONENT_LABEL: WEB}}
POSTGRES_PODS = {"matchLabels": {NAME_LABEL: POSTGRESQL}}
ACME_SOLVER_PODS = {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
ACME_SOLVER_PORT = 8089


def namespace(spec):
    labels = {**base_labels(spec), PLAN_LABEL: spec.plan.name, ROLE_LABEL: ROLE_TENANT, **POD_SECURITY}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace, "labels": labels}}


# The ClusterRole (roles/saas_system) holding what the automation may do inside one tenant
# namespace. It is never bound cluster-wide: each tenant namespace binds it, so the automation
# reaches no Secret outside tenant namespaces.
TENANT_CLUSTER_ROLE = "odoo-saas-tenant"
AUTOMATION_BINDING = "odoo-saas-automation"


def automation_binding(spec, platform):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(spec, AUTOMATION_BINDING),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": TENANT_CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": platform.automation_account,
                      "namespace": platform.platform_namespace}],
    }


def service_account(spec):
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(spec, SERVICE_ACCOUNT),
        "automountServiceAccountToken": False,
    }


def _tcp(*ports):
    return [{"protocol": "TCP", "port": port} for port in ports]


def _policy(spec, name, pod_selector, ingress=None, egress=None):
    types = (["Ingress"] if ingress is not None else []) + (["Egress"] if egress is not None else [])
    body = {"podSelector": pod_selector, "policyTypes": types}
    if ingress:
        body["ingress"] = ingress
    if egress:
        body["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(spec, name), "spec": body}


def _namespace_named(name):
    return {"matchLabels": {NAMESPACE_NAME_LABEL: name}}


def network_policies(spec, platform, database):
    """Deny everything, then open exactly: Traefik → web (and → cert-manager's HTTP-01
    solver), DNS, Odoo → its database, Odoo → its own web pods (report rendering), Odoo → the
    plan's egress allowlist outside the cluster (mail, HTTPS), and for a dedicated server
    Odoo → it."""
    web_ports = (HTTP_PORT, WEBSOCKET_PORT) if spec.plan.workers > 0 else (HTTP_PORT,)
    policies = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(spec, "default-deny"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        _policy(spec, "allow-ingress-from-traefik", WEB_PODS, ingress=[{
            "from": [{"namespaceSelector": _namespace_named(platform.ingress_namespace)}],
            "ports": _tcp(*web_ports),
        }]),
        # cert-manager answers an HTTP-01 challenge from a solver pod in the Ingress's own
        # namespace; without this, default-deny stalls issuance and renewal (Let's Encrypt).
        _policy(spec, "allow-acme-http01-from-traefik", ACME_SOLVER_PODS, ingress=[{
            "from": [{"namespaceSelector": _namespace_named(platform.ingress_namespace)}],
            "ports": _tcp(ACME_SOLVER_PORT),
        }]),
        _policy(spec, "allow-egress-dns", {}, egress=[{
            "to": [{"namespaceSelector": _namespace_named("kube-system")}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }]),
        _policy(spec, "allow-egress-database", ODOO_PODS, egress=[{
            "to": [{"namespaceSelector": _namespace_named(database.namespace), "podSelector": POSTGRES_PODS}],
            "ports": _tcp(database.port),
        }]),
        # Odoo renders PDF reports by having wkhtmltopdf fetch pages from Odoo itself
        # (report.url → the `odoo` Service): web and cron pods reach the web pods on 8069.
        _policy(
            spec, "allow-odoo-to-itself", ODOO_PODS,
            ingress=[{"from": [{"podSelector": ODOO_PODS}], "ports": _tcp(HTTP_PORT)}],
            egress=[{"to": [{"podSelector": WEB_PODS}], "ports": _tcp(HTTP_PORT)}],
        ),
    ]
    outside = rules_for(spec.plan, platform.egress)
    if outside:
        # ipBlock peers match addresses outside the cluster only in intent: pod and service
        # addresses would match too, so every block carves out the closed ranges.
        closed = platform.closed_ranges
        policies.append(_policy(spec, "allow-egress-outside", ODOO_PODS, egress=[
            {"to": [{"ipBlock": ip_block(rule, closed)}],
             "ports": [{"protocol": rule.protocol, "port": port} for port in rule.ports]}
            for rule in outside
        ]))
    if spec.db_strategy == DEDICATED:
        policies.append(_policy(spec, "allow-database-from-odoo", POSTGRES_PODS, ingress=[{
            "from": [{"podSelector": ODOO_PODS}],
            "ports": _tcp(POSTGRES_PORT),
        }]))
    return policies


def shared_server_policy(server_namespace, platform):
    """The NetworkPolicy of a postgres-shared-N namespace: PostgreSQL (5432) is reachable
    from tenant namespaces (label odoo-saas.io/role=tenant) and from the platform namespace
    (role and database management, backups); everything else is refused."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "allow-postgres-from-tenants",
            "namespace": server_namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/part-of": PART_OF},
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [
                    {"namespaceSelector": {"matchLabels": {ROLE_LABEL: ROLE_TENANT}}},
                    {"namespaceSelector": _namespace_named(platform.platform_namespace)},
                ],
                "ports": _tcp(POSTGRES_PORT),
            }],
        },
    }
