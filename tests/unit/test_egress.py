"""Tenant egress (issue 10, item 2): Odoo may reach mail and HTTPS outside the cluster, never
the metadata address, the cluster's pods and services, or ranges the operator closes; the
allowlist is the platform's, a plan may replace or extend it, and bad rules are refused
naming their field. Also the dedicated servers' exact PostgreSQL image (item 8)."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError

from .plans_fixture import platform, raw_plans
from .test_manifests import database_for, secrets_for

SMTP_IMAP_HTTPS = {("TCP", 25), ("TCP", 465), ("TCP", 587), ("TCP", 993), ("TCP", 443)}


def objects(platform_, plan="small", name="acme"):
    spec = specs.build_spec({"name": name, "plan": plan}, platform_)
    return manifests.tenant_objects(spec, platform_, database_for(spec), secrets_for(name))


def outside_policy(objs):
    found = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-egress-outside"]
    return found[0] if found else None


def opened(policy):
    """{(protocol, port): [ipBlock, ...]} of an egress policy."""
    ports = {}
    for rule in policy["spec"]["egress"]:
        for port in rule["ports"]:
            ports.setdefault((port["protocol"], port["port"]), []).extend(peer["ipBlock"] for peer in rule["to"])
    return ports


def reaches(policy, address, protocol, port):
    """Whether the policy lets a pod open `address`:`port` (ipBlock cidr minus except)."""
    target = ipaddress.ip_address(address)
    for block in opened(policy).get((protocol, port), []):
        if target in ipaddress.ip_network(block["cidr"]) and not any(
                target in ipaddress.ip_network(cidr) for cidr in block.get("except", [])):
            return True
    return False


def test_by_default_odoo_reaches_mail_and_https_outside_the_cluster_only():
    policy = outside_policy(objects(platform()))
    assert policy is not None, "no egress beyond DNS and the database (mail and HTTPS refused)"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "odoo"}}
    assert policy["spec"]["policyTypes"] == ["Egress"] and "ingress" not in policy["spec"]
    assert set(opened(policy)) == SMTP_IMAP_HTTPS
    for protocol, port in SMTP_IMAP_HTTPS:
        assert reaches(policy, "198.51.100.25", protocol, port)  # a mail or payment provider
        assert not reaches(policy, "169.254.169.254", protocol, port)  # cloud metadata
        assert not reaches(policy, "10.1.7.12", protocol, port)  # another tenant's pod (MicroK8s pod range)
        assert not reaches(policy, "10.152.183.1", protocol, port)  # the API server's Service
    assert not reaches(policy, "198.51.100.25", "TCP", 5432)  # nothing else outside
    assert not reaches(policy, "198.51.100.25", "UDP", 443)


def test_every_except_lies_strictly_inside_its_cidr():
    """The API server refuses an ipBlock whose except is not a strict subset of its cidr."""
    closed_operator = platform(egress_except=["192.168.1.0/24"], egress=[
        {"cidr": "0.0.0.0/0", "ports": [443]}, {"cidr": "203.0.113.0/24", "ports": [25]},
        {"cidr": "::/0", "ports": [443]}])
    for block in [b for blocks in opened(outside_policy(objects(closed_operator))).values() for b in blocks]:
        cidr = ipaddress.ip_network(block["cidr"])
        for excepted in block.get("except", []):
            inner = ipaddress.ip_network(excepted)
            assert inner.version == cidr.version and inner.subnet_of(cidr) and inner != cidr, block
    policy = outside_policy(objects(closed_operator))
    assert not reaches(policy, "192.168.1.20", "TCP", 443)  # the nodes' network, closed by the operator
    assert not reaches(policy, "fd00:ec2::254", "TCP", 443)  # AWS's IPv6 metadata address
    assert reaches(policy, "2001:db8::1", "TCP", 443)
    assert reaches(policy, "203.0.113.9", "TCP", 25) and not reaches(policy, "198.51.100.9", "TCP", 25)


def test_a_block_is_the_same_for_every_tenant_and_each_gets_its_own():
    """The carving is cached (a fleet builds the same blocks for every tenant): a block handed to
    one tenant's objects and changed there does not change the next one's."""
    from ansible_collections.odoo_saas.kit.plugins.module_utils.request import egress
    closed = egress.closed_ranges("10.1.0.0/16", "10.152.183.0/24", extra=("192.168.1.0/24",))
    first = egress.block_outside("0.0.0.0/0", closed)
    assert first == {"cidr": "0.0.0.0/0", "except": sorted(
        [fence.cidr for fence in closed if ":" not in fence.cidr], key=ipaddress.ip_network)}
    first["except"].append("8.8.8.8/32")
    assert egress.block_outside("0.0.0.0/0", list(closed)) == {
        "cidr": "0.0.0.0/0", "except": [e for e in first["except"] if e != "8.8.8.8/32"]}
    assert egress.block_outside("203.0.113.0/24", closed) == {"cidr": "203.0.113.0/24"}


def test_the_cluster_ranges_are_platform_settings():
    local = platform(pod_cidr="127.1.0.0/16", service_cidr="10.96.0.0/16")
    policy = outside_policy(objects(local))
    assert not reaches(policy, "10.96.0.1", "TCP", 443) and not reaches(policy, "127.1.2.3", "TCP", 443)
    assert reaches(policy, "10.152.183.1", "TCP", 443)  # not this cluster's range any more


def test_a_plan_replaces_or_extends_the_platform_allowlist():
    plans = raw_plans()
    plans["small"]["egress"] = [{"cidr": "203.0.113.10/32", "protocol": "TCP", "ports": [587]}]
    plans["medium"]["extra_egress"] = [{"cidr": "198.51.100.0/24", "protocol": "tcp", "ports": ["5432", 443]}]
    plans["large"]["egress"] = []
    configured = platform(plans=plans)
    small = outside_policy(objects(configured, "small"))
    assert set(opened(small)) == {("TCP", 587)} and reaches(small, "203.0.113.10", "TCP", 587)
    assert not reaches(small, "198.51.100.25", "TCP", 443)
    medium = outside_policy(objects(configured, "medium", "globex"))
    assert set(opened(medium)) == SMTP_IMAP_HTTPS | {("TCP", 5432)}
    assert reaches(medium, "198.51.100.7", "TCP", 5432) and not reaches(medium, "203.0.113.7", "TCP", 5432)
    assert outside_policy(objects(configured, "large", "initech")) is None  # no egress beyond DNS and the database
    # The platform's own allowlist, set by the operator, applies to plans that do not replace it.
    only_https = platform(egress=[{"ports": [443]}])
    assert set(opened(outside_policy(objects(only_https)))) == {("TCP", 443)}
    assert outside_policy(objects(platform(egress=[]))) is None


def plan_with(key, rules):
    plans = raw_plans()
    plans["medium"][key] = rules
    return {"plans": plans}


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"egress": [{"cidr": "169.254.169.254/32", "ports": [80]}]}, "egress[0].cidr", "metadata"),
    ({"egress": [{"cidr": "10.1.3.0/24", "ports": [443]}]}, "egress[0].cidr", "pod range"),
    ({"egress": [{"cidr": "10.152.183.1/32", "ports": [443]}]}, "egress[0].cidr", "service range"),
    ({"egress": [{"cidr": "10.1.0.0/16", "ports": [443]}]}, "egress[0].cidr", "pod range"),
    ({"egress_except": ["192.168.0.0/16"], "egress": [{"cidr": "192.168.1.0/24", "ports": [25]}]},
     "egress[0].cidr", "egress_except"),
    ({"egress": [{"ports": [443]}, {"cidr": "203.0.113.1/24", "ports": [443]}]}, "egress[1].cidr", "host bits"),
    ({"egress": [{"cidr": "mail.example.com", "ports": [25]}]}, "egress[0].cidr", "CIDR"),
    ({"egress": [{"ports": [0]}]}, "egress[0].ports[0]", "1 to 65535"),
    ({"egress": [{"ports": [65536]}]}, "egress[0].ports[0]", "1 to 65535"),
    ({"egress": [{"ports": [True]}]}, "egress[0].ports[0]", "1 to 65535"),
    ({"egress": [{"ports": []}]}, "egress[0].ports", "list of 1 to"),
    ({"egress": [{"ports": 443}]}, "egress[0].ports", "list of 1 to"),
    ({"egress": [{"ports": [132], "protocol": "SCTP"}]}, "egress[0].protocol", "TCP or UDP"),
    ({"egress": [{"ports": [443], "port": 80}]}, "egress[0]", "unknown key 'port'"),
    ({"egress": ["0.0.0.0/0:443"]}, "egress[0]", "mapping"),
    ({"egress": {"cidr": "0.0.0.0/0"}}, "egress", "list"),
    ({"egress_except": ["192.168.1.0/33"]}, "egress_except[0]", "CIDR"),
    ({"egress_except": "192.168.1.0/24"}, "egress_except", "list"),
    ({"pod_cidr": "10.1.0.1/16"}, "pod_cidr", "host bits"),
    ({"service_cidr": "services"}, "service_cidr", "CIDR"),
    (plan_with("egress", [{"cidr": "169.254.169.254/32", "ports": [80]}]), "plans.medium.egress[0].cidr", "metadata"),
    (plan_with("extra_egress", [{"cidr": "10.152.183.0/24", "ports": [443]}]), "plans.medium.extra_egress[0].cidr",
     "service range"),
    (plan_with("extra_egress", [{"ports": ["https"]}]), "plans.medium.extra_egress[0].ports[0]", "1 to 65535"),
    (plan_with("egress", "smtp"), "plans.medium.egress", "list"),
])
def test_bad_egress_settings_are_refused_naming_the_field(params, field, words):
    with pytest.raises(SpecError) as refused:
        platform(**params)
    assert refused.value.field == field, str(refused.value)
    assert words in str(refused.value)


def test_a_link_local_range_that_holds_the_metadata_address_is_carved_out():
    policy = outside_policy(objects(platform(egress=[{"cidr": "169.254.0.0/16", "ports": [80]}])))
    assert reaches(policy, "169.254.1.1", "TCP", 80) and not reaches(policy, "169.254.169.254", "TCP", 80)


@pytest.mark.parametrize("image", ["postgres:16.10-bookworm", "postgres:17.6-trixie",
                                   "localhost:32000/postgres:16.10-bookworm",
                                   "registry.example.com/pg@sha256:" + "a" * 64])
def test_the_dedicated_servers_run_the_exact_image_the_platform_names(image):
    configured = platform(postgres_image=image)
    statefulset = [o for o in objects(configured, "large", "initech") if o["kind"] == "StatefulSet"][0]
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == image


@pytest.mark.parametrize(("image", "words"), [
    ("postgres:16", "exact PostgreSQL version"),
    ("postgres", "exact PostgreSQL version"),
    ("postgres:latest", "exact PostgreSQL version"),
    ("postgres:16.10", "names no Debian release"),
    ("postgres:14.19-bookworm", "15 or later"),
    ("postgres:16.10-alpine3.22", "Debian variant"),
    ("postgres:16.10; rm -rf /", "image reference"),
])
def test_a_mutable_or_unsuitable_postgres_image_is_refused(image, words):
    with pytest.raises(SpecError) as refused:
        platform(postgres_image=image)
    assert refused.value.field == "postgres_image" and words in str(refused.value)
