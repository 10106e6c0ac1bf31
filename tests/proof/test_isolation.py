"""Isolation matrix (issue 5): several tenants of both strategies (shared PostgreSQL on either
server, dedicated) and every way one could reach another: its database, the Kubernetes API
through its ServiceAccounts, a privileged pod, the network (NetworkPolicies analysed by np-guard's
netpol-analyzer). Dedicated servers do not run on kwok, so their database checks are left to
the shared tenants; their objects, policies and RBAC are checked like everyone's."""

from __future__ import annotations

import itertools

import psycopg
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from tests.cluster import settings
from tests.integration import tenants
from tests.integration.conftest import restricted_pod_spec

from . import network_analysis, tenant_pool

SUITE = "isolation"
SHARED_PER_SERVER = 2
DEDICATED_TENANTS = 2
# Shared plans alternate so that both web port sets (8069; 8069 and 8072 with workers) appear.
PLANS = [tenant_pool.SMALL, tenant_pool.MEDIUM] * SHARED_PER_SERVER + [tenant_pool.LARGE] * DEDICATED_TENANTS
PLATFORM_NAMESPACES = ("saas-dev", "postgres-shared-1", "postgres-shared-2", "traefik", "kube-system", "default")
SERVERS = {server.name: server for server in (tenants.SHARED_1, tenants.SHARED_2)}
# The local cluster's ranges, as inventories/local sets them (kwok's loopback pod addresses).
CLUSTER_RANGES = {"pod_cidr": "127.1.0.0/16", "service_cidr": settings.SERVICE_CIDR}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """{name: tenant result} of tenants provisioned on a scratch ledger whose servers hold two
    tenants each, so the shared ones land two on each server; all removed afterwards."""
    backups = tmp_path_factory.mktemp("backups")
    with tenant_pool.scratch_ledger(backups, SHARED_PER_SERVER) as ledger_db:
        names = [tenants.unique("iso") for _plan in PLANS]
        outcomes = tenant_pool.run_all(
            [tenant_pool.params(ledger_db, backups, name, plan=plan, **CLUSTER_RANGES) for name, plan in zip(names, PLANS)],
            width=3)
        assert all(outcome.ok for outcome in outcomes), outcomes
        with tenants.connect(tenants.LEDGER, ledger_db) as conn:
            assert tenants.server_counts(conn) == {name: (SHARED_PER_SERVER, SHARED_PER_SERVER) for name in SERVERS}
        yield {name: outcome.result["tenant"] for name, outcome in zip(names, outcomes)}


def _shared(fleet):
    return {name: record for name, record in fleet.items() if record["database"]["strategy"] == "shared"}


def test_no_tenant_role_reaches_another_tenants_database(core, fleet, figures):
    shared = _shared(fleet)
    assert len(shared) == 2 * SHARED_PER_SERVER
    logins = {name: (naming.role_for(name), tenant_pool.db_password(core, record["namespace"])) for name, record in shared.items()}
    refusals = []
    for (a, record_a), (b, record_b) in itertools.permutations(shared.items(), 2):
        role, password = logins[a]
        server_b = SERVERS[record_b["database"]["server"]]
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(host="127.0.0.1", port=server_b.port, user=role, password=password,
                            dbname=record_b["database"]["name"], connect_timeout=5)
        same_server = record_a["database"]["server"] == record_b["database"]["server"]
        # pg_hba.conf (roles/postgres_shared, which the local servers run with) admits a tenant's
        # role into its own database and `postgres` only: refused before any password is checked.
        assert "no pg_hba.conf entry" in str(refused.value), (a, b, str(refused.value))
        refusals.append(same_server)
        if not same_server:
            continue
        # Inside its own database, it cannot become the other tenant's role either.
        with psycopg.connect(host="127.0.0.1", port=SERVERS[record_a["database"]["server"]].port, user=role,
                             password=password, dbname=record_a["database"]["name"], autocommit=True) as own:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                own.execute(f'SET ROLE "{naming.role_for(b)}"')
        figures.add(SUITE, "database: SET ROLE to another tenant's role refused", 1)
    figures.add(SUITE, "database: tenant role x other tenant database, connections refused", len(refusals))
    figures.add(SUITE, "database: ... of which on the same server (no pg_hba.conf entry)", sum(refusals))
    figures.add(SUITE, "database: connections between tenants that succeeded", 0)
    for name, (role, password) in logins.items():  # the control: each role does open its own
        record = shared[name]
        with psycopg.connect(host="127.0.0.1", port=SERVERS[record["database"]["server"]].port, user=role,
                             password=password, dbname=record["database"]["name"]) as own:
            assert own.execute("SELECT current_user").fetchone()[0] == role


def _allowed(authorization, user, namespace, verb, resource, groups):
    attributes = client.V1ResourceAttributes(namespace=namespace, verb=verb, resource=resource)
    review = client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(
        user=user, groups=groups, resource_attributes=attributes))
    return authorization.create_subject_access_review(review).status.allowed


def test_no_tenant_service_account_reads_any_namespace(api, core, fleet, figures):
    authorization = client.AuthorizationV1Api(api)
    namespaces = [record["namespace"] for record in fleet.values()]
    reviews = 0
    for own in namespaces:
        accounts = [account.metadata.name for account in core.list_namespaced_service_account(own).items]
        assert "odoo" in accounts, accounts
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{own}", "system:authenticated"]
        for account in accounts:
            user = f"system:serviceaccount:{own}:{account}"
            for namespace in [*namespaces, *PLATFORM_NAMESPACES]:
                for verb, resource in itertools.product(("get", "list", "watch"), ("secrets", "pods", "configmaps")):
                    assert not _allowed(authorization, user, namespace, verb, resource, groups), \
                        f"{user} may {verb} {resource} in {namespace}"
                    reviews += 1
                    if namespace != own:
                        figures.add(SUITE, "API: reads of another namespace (tenant or platform) denied", 1)
            for verb, resource in (("list", "namespaces"), ("list", "nodes"), ("list", "secrets")):
                assert not _allowed(authorization, user, None, verb, resource, groups), f"{user} may {verb} {resource}"
                reviews += 1
    figures.add(SUITE, "API: SubjectAccessReviews, all denied", reviews)
    figures.add(SUITE, "API: tenant ServiceAccounts reviewed", sum(
        len(core.list_namespaced_service_account(ns).items) for ns in namespaces))


def _pod(spec, name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _unsafe_pods():
    """(name, pod spec, what Pod Security names in its refusal): each breaks one rule (the
    privileged one also has to allow privilege escalation)."""
    privileged = restricted_pod_spec()
    privileged["containers"][0]["securityContext"].update(privileged=True, allowPrivilegeEscalation=True)
    root = restricted_pod_spec()
    root["securityContext"] = {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}
    host_path = restricted_pod_spec()
    host_path["volumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    host_path["containers"][0]["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
    host_network = dict(restricted_pod_spec(), hostNetwork=True)
    host_pid = dict(restricted_pod_spec(), hostPID=True)
    capability = restricted_pod_spec()
    capability["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    escalation = restricted_pod_spec()
    escalation["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    return (("privileged", privileged, "privileged"), ("root", root, "runAsUser=0"),
            ("host-path", host_path, "hostPath"), ("host-network", host_network, "hostNetwork"),
            ("host-pid", host_pid, "hostPID"), ("capability", capability, "SYS_ADMIN"),
            ("escalation", escalation, "allowPrivilegeEscalation"))


def test_privileged_root_and_host_pods_are_refused_in_every_tenant_namespace(core, fleet, figures):
    for record in fleet.values():
        namespace = record["namespace"]
        # The control: a pod within the rules passes admission here.
        core.create_namespaced_pod(namespace, _pod(restricted_pod_spec(), "within-the-rules"), dry_run="All")
        for name, spec, named in _unsafe_pods():
            with pytest.raises(ApiException) as refused:
                core.create_namespaced_pod(namespace, _pod(spec, name), dry_run="All")
            assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body, (namespace, name)
            assert named in refused.value.body, (namespace, name, refused.value.body)
            figures.add(SUITE, "pods: unsafe pods refused by Pod Security (dry run)", 1)
        figures.add(SUITE, "pods: tenant namespaces tried", 1)


def _web_ports(plan):
    return (8069, 8072) if tenant_pool.plans()[plan]["workers"] > 0 else (8069,)


def _ports(conn):
    """'TCP 53,UDP 53' / 'TCP 8069,8072' -> {('TCP', '53'), ('UDP', '53')} ..."""
    found, protocol = set(), None
    for token in conn.replace(" ", ",").split(","):
        if token.isalpha():
            protocol = token
        elif token:
            found.add((protocol, token))
    return frozenset(found)


def _expected_paths(fleet, connections):
    """What the design opens for each tenant: Traefik -> web, each pod -> DNS, Odoo -> its
    database server, Odoo -> its own web pods, and nothing else in or out."""
    workloads = {peer for connection in connections for peer in (connection.src, connection.dst)}
    expected = set()
    for record in fleet.values():
        namespace, plan = record["namespace"], record["plan"]
        own = sorted(peer for peer in workloads if network_analysis.Connection.namespace_of(peer) == namespace)
        web = f"{namespace}/odoo-web[Deployment]"
        odoo = [peer for peer in own if "/odoo-" in peer]
        if record["database"]["strategy"] == "shared":
            database = f"{record['database']['server']}/postgres[Deployment]"
        else:
            database = f"{namespace}/postgres[StatefulSet]"
        expected.add(("traefik/traefik[Deployment]", web, frozenset(("TCP", str(p)) for p in _web_ports(plan))))
        for peer in own:
            expected.add((peer, "kube-system/coredns[Deployment]", frozenset({("TCP", "53"), ("UDP", "53")})))
        for peer in odoo:
            expected.add((peer, database, frozenset({("TCP", "5432")})))
            if peer != web:
                expected.add((peer, web, frozenset({("TCP", "8069")})))
    return expected


def test_network_policies_allow_no_path_between_tenants(api, fleet, tmp_path, figures):
    tenant_namespaces = {record["namespace"] for record in fleet.values()}
    dumped = network_analysis.dump(api, tenant_namespaces, tmp_path / "objects")
    connections, warnings = network_analysis.allowed_connections(tmp_path / "objects")

    def tenant_of(peer):
        namespace = network_analysis.Connection.namespace_of(peer)
        return namespace if namespace in tenant_namespaces else None

    tenant_workloads = {peer for c in connections for peer in (c.src, c.dst) if tenant_of(peer)}
    per_tenant = {namespace: {peer for peer in tenant_workloads if tenant_of(peer) == namespace}
                  for namespace in tenant_namespaces}
    assert all(per_tenant.values()), per_tenant  # every tenant's workloads were analysed
    pairs = sum(len(per_tenant[a]) * len(per_tenant[b]) for a, b in itertools.permutations(tenant_namespaces, 2))
    between = [c for c in connections if tenant_of(c.src) and tenant_of(c.dst) and tenant_of(c.src) != tenant_of(c.dst)]
    figures.set(SUITE, "network: objects analysed by netpol-analyzer v1.4.2", sum(dumped.values()))
    figures.set(SUITE, "network: tenant workloads", len(tenant_workloads))
    figures.set(SUITE, "network: workload pairs across tenants checked", pairs)
    figures.set(SUITE, "network: connections found between tenants", len(between))
    assert between == []

    # Egress to addresses outside the cluster is checked by test_odoo_reaches_mail_and_https_outside_only.
    touching = {(c.src, c.dst, _ports(c.conn)) for c in connections
                if (tenant_of(c.src) or tenant_of(c.dst)) and not network_analysis.address_ranges(c.dst)}
    expected = _expected_paths(fleet, connections)
    figures.set(SUITE, "network: allowed paths touching a tenant (all expected)", len(touching))
    assert touching == expected, {"unexpected": sorted(touching - expected, key=str),
                                  "missing": sorted(expected - touching, key=str)}
    # No way in from outside the cluster but through Traefik.
    assert not [c for c in connections if network_analysis.address_ranges(c.src) and tenant_of(c.dst)]
    # Ingress backends are closed to an arbitrary in-cluster source (only Traefik's namespace).
    closed = [line for line in warnings if "network policies are blocking ingress connections from an arbitrary" in line]
    assert len(closed) == len(fleet), warnings
    figures.set(SUITE, "network: Ingress backends closed to any in-cluster source but Traefik", len(closed))


def test_the_analysis_sees_a_path_between_tenants_when_policies_open_one(api, fleet, tmp_path, figures):
    """The control of the analysis above: one policy pair opening tenant A to tenant B is found."""
    record_a, record_b = list(fleet.values())[:2]
    directory = tmp_path / "objects"
    network_analysis.dump(api, {record_a["namespace"], record_b["namespace"]}, directory)
    opening = (
        (record_a["namespace"], "Egress", "egress", "to", record_b["namespace"]),
        (record_b["namespace"], "Ingress", "ingress", "from", record_a["namespace"]),
    )
    for index, (namespace, policy_type, direction, peers, other) in enumerate(opening):
        policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "opened-by-the-test", "namespace": namespace},
                  "spec": {"podSelector": {}, "policyTypes": [policy_type], direction: [
                      {peers: [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": other}}}]}]}}
        (directory / f"9{index:03d}-opening.yaml").write_text(yaml.safe_dump(policy))
    connections, _warnings = network_analysis.allowed_connections(directory)
    found = [c for c in connections if c.src.startswith(f"{record_a['namespace']}/")
             and c.dst.startswith(f"{record_b['namespace']}/")]
    assert found, connections
    figures.set(SUITE, "network: control, paths found once a test policy opens A -> B", len(found))


# (what, address, protocol, port) a tenant's Odoo may open, and may not.
OUTSIDE_ALLOWED = (
    ("SMTP", "198.51.100.25", "TCP", 25), ("SMTP submission", "198.51.100.25", "TCP", 587),
    ("SMTPS", "198.51.100.25", "TCP", 465), ("IMAPS", "198.51.100.25", "TCP", 993), ("HTTPS", "203.0.113.80", "TCP", 443),
)
OUTSIDE_REFUSED = (
    ("cloud metadata", "169.254.169.254", "TCP", 80), ("cloud metadata over 443", "169.254.169.254", "TCP", 443),
    ("the API server's Service", "10.96.0.1", "TCP", 443),
    ("the API server itself", settings.ADVERTISE_ADDRESS, "TCP", settings.PORTS.apiserver),
    ("a pod of another tenant, over an allowed port", "127.1.2.9", "TCP", 443),
    ("the shared servers' admin NodePort on a node", "203.0.113.10", "TCP", 30433),
    ("PostgreSQL anywhere outside", "198.51.100.25", "TCP", 5432),
)


def test_odoo_reaches_mail_and_https_outside_only(api, fleet, tmp_path, figures):
    """Egress (issue 10): each tenant's Odoo pods (web, cron, init Job) reach SMTP, IMAP and
    HTTPS outside the cluster; never the metadata address, the API server (its Service or its
    own address), another tenant's pods or a shared server's admin port; a dedicated server's
    pod reaches nothing outside."""
    tenant_namespaces = {record["namespace"] for record in fleet.values()}
    network_analysis.dump(api, tenant_namespaces, tmp_path / "objects")
    connections, _warnings = network_analysis.allowed_connections(tmp_path / "objects")
    workloads = {c.src for c in connections if network_analysis.Connection.namespace_of(c.src) in tenant_namespaces}
    odoo = sorted(w for w in workloads if "/odoo-" in w)
    assert len(odoo) == 3 * len(fleet), odoo  # web, cron and the init Job of each tenant
    for workload in odoo:
        for what, address, protocol, port in OUTSIDE_ALLOWED:
            assert network_analysis.reaches(connections, workload, address, protocol, port), (workload, what)
            figures.add(SUITE, "egress: Odoo -> outside service allowed (SMTP, IMAP, HTTPS)", 1)
        for what, address, protocol, port in OUTSIDE_REFUSED:
            assert not network_analysis.reaches(connections, workload, address, protocol, port), (workload, what)
            figures.add(SUITE, "egress: Odoo -> closed address refused (metadata, API server, ...)", 1)
    others = sorted(w for w in workloads if "/odoo-" not in w)
    assert others, workloads  # the dedicated servers
    for workload in others:
        assert not [c for c in connections if c.src == workload and network_analysis.address_ranges(c.dst)], workload
    figures.set(SUITE, "egress: tenant workloads with no way outside (dedicated PostgreSQL)", len(others))
