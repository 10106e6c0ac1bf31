"""The automation's RBAC (roles/saas_system/templates/rbac.yml.j2) follows from what the code
touches: every kind the manifests make can be read, created and patched by the role that is
bound where it lives, and nothing is granted on a resource the code does not know (kube.KINDS
and READ_ONLY_KINDS). The shared servers' Role (roles/postgres_shared) is checked by the
postgres_shared molecule scenario's SubjectAccessReviews."""

from __future__ import annotations

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import KINDS, READ_ONLY_KINDS

from tests.integration.automation_rbac import render

from .test_manifests import CASES, build_case

APPLY_VERBS = {"get", "create", "patch"}
# Granted beyond the kinds: scaling to zero on suspension and removal (operations), and binding the tenant
# ClusterRole in each tenant namespace.
SUBRESOURCES = {("apps", "deployments/scale"), ("apps", "statefulsets/scale"), ("rbac.authorization.k8s.io", "clusterroles")}


def _group(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


AUTOMATION_ROLE = "odoo-saas-automation"  # bound cluster-wide: namespaces and the tenant RoleBinding
TENANT_ROLE = "odoo-saas-tenant"  # bound in each tenant namespace only: everything inside it
MADE_BY_THE_AUTOMATION_ROLE = {"Namespace", "RoleBinding"}


def granted(role=None):
    rules = {}
    for obj in render("saas-system", automation_name=AUTOMATION_ROLE, tenant_role=TENANT_ROLE):
        if obj["kind"] in ("ClusterRole", "Role") and role in (None, obj["metadata"]["name"]):
            for rule in obj.get("rules", []):
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        rules.setdefault((group, resource), set()).update(rule["verbs"])
    return rules


def made_kinds():
    kinds = set()
    for case in CASES:
        _spec, objects = build_case(case)
        kinds.update((obj["apiVersion"], obj["kind"]) for obj in objects)
    return kinds


def test_every_kind_the_manifests_make_can_be_applied():
    kinds = made_kinds()
    assert ("apps/v1", "Deployment") in kinds and ("v1", "Namespace") in kinds
    for api_version, kind in kinds:
        role = AUTOMATION_ROLE if kind in MADE_BY_THE_AUTOMATION_ROLE else TENANT_ROLE
        plural, _namespaced = KINDS[(api_version, kind)]
        verbs = granted(role).get((_group(api_version), plural), set())
        assert APPLY_VERBS <= verbs, f"{kind}: {role} may {sorted(verbs)}, it must {sorted(APPLY_VERBS)}"


def test_nothing_is_granted_on_a_resource_the_code_does_not_know():
    known = {(_group(version), plural) for (version, _kind), (plural, _n) in {**KINDS, **READ_ONLY_KINDS}.items()}
    assert not set(granted()) - known - SUBRESOURCES
