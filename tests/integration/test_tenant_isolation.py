"""Tenants cannot reach each other: databases, the API, privileged pods, network policy."""

from __future__ import annotations

import psycopg
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from . import tenants
from .conftest import restricted_pod_spec


@pytest.fixture(scope="module")
def two_tenants(tmp_path_factory, core):
    ledger_db = tenants.create_ledger()
    backups = tmp_path_factory.mktemp("backups")
    made = {}
    for plan in ("small", "medium"):
        name = tenants.unique("iso")
        result, failure = tenants.tenant(tenants.params(ledger_db, backups, name=name, plan=plan))
        assert failure is None, failure
        made[name] = result["tenant"]
    passwords = {name: _db_password(core, record["namespace"]) for name, record in made.items()}
    yield made, passwords
    tenants.remove_all(ledger_db, backups)
    tenants.drop_ledger(ledger_db)


def _db_password(core, namespace):
    import base64
    return base64.b64decode(core.read_namespaced_secret("odoo-db", namespace).data["password"]).decode()


def _server(record):
    return tenants.SHARED_1 if record["database"]["server"] == "postgres-shared-1" else tenants.SHARED_2


def test_a_tenant_role_cannot_connect_to_another_tenants_database(two_tenants):
    made, passwords = two_tenants
    (a, record_a), (b, record_b) = made.items()
    role_a, db_a, db_b = record_a["database"]["name"], record_a["database"]["name"], record_b["database"]["name"]
    own = psycopg.connect(host="127.0.0.1", port=_server(record_a).port, user=role_a, password=passwords[a], dbname=db_a)
    own.close()
    if _server(record_a) is _server(record_b):
        with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
            psycopg.connect(host="127.0.0.1", port=_server(record_b).port, user=role_a, password=passwords[a], dbname=db_b)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=_server(record_a).port, user=role_a, password=passwords[a], dbname="postgres",
                        options="-c role=postgres")


def _allowed(api, user, namespace, verb, resource):
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
        resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource)))
    return client.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed


def test_a_tenant_service_account_can_read_nothing(api, two_tenants):
    made, _passwords = two_tenants
    (_a, record_a), (_b, record_b) = made.items()
    account = f"system:serviceaccount:{record_a['namespace']}:odoo"
    for namespace in (record_b["namespace"], record_a["namespace"]):
        for verb, resource in (("get", "secrets"), ("list", "pods"), ("list", "configmaps")):
            assert not _allowed(api, account, namespace, verb, resource), f"{account} may {verb} {resource} in {namespace}"


def test_privileged_and_root_pods_are_refused_in_a_tenant_namespace(core, two_tenants):
    made, _passwords = two_tenants
    namespace = next(iter(made.values()))["namespace"]
    privileged = restricted_pod_spec()
    privileged["containers"][0]["securityContext"] = {"privileged": True}
    root = restricted_pod_spec()
    root["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    for name, spec in (("privileged", privileged), ("root", root)):
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec},
                                       dry_run="All")
        assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body


def test_network_policies_deny_by_default_and_admit_only_traefik(api, two_tenants):
    made, _passwords = two_tenants
    networking = client.NetworkingV1Api(api)
    for record in made.values():
        policies = {p.metadata.name: p for p in networking.list_namespaced_network_policy(record["namespace"]).items}
        deny = policies["default-deny"]
        assert deny.spec.pod_selector.match_labels is None and set(deny.spec.policy_types) == {"Ingress", "Egress"}
        assert not deny.spec.ingress and not deny.spec.egress
        sources = [peer.namespace_selector.match_labels for policy in policies.values()
                   for rule in policy.spec.ingress or [] for peer in rule._from or [] if peer.namespace_selector]
        assert sources and all(labels == {"kubernetes.io/metadata.name": "traefik"} for labels in sources), sources
        other_namespaces = {r["namespace"] for r in made.values()} - {record["namespace"]}
        for policy in policies.values():
            for rule in policy.spec.egress or []:
                for peer in rule.to or []:
                    labels = (peer.namespace_selector.match_labels or {}) if peer.namespace_selector else {}
                    assert labels.get("kubernetes.io/metadata.name") not in other_namespaces
