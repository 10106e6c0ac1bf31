# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a tenant's Odoo may connect outside the cluster (mail, HTTPS): an allowlist of
address ranges and ports, and the ranges no rule ever opens (cloud metadata, the cluster's
pod and service ranges, the operator's own exceptions such as the nodes' network)."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field

from ..errors import SpecError, shown

DEFAULT_POD_CIDR = "10.1.0.0/16"  # MicroK8s (Calico)
DEFAULT_SERVICE_CIDR = "10.152.183.0/24"  # MicroK8s
# Cloud providers' instance metadata (credentials of the node's cloud identity): IPv4, and AWS's IPv6.
METADATA_CIDRS = ("169.254.169.254/32", "fd00:ec2::254/128")
# What Odoo opens by itself: SMTP for every mail it sends, IMAP for incoming mail, HTTPS for
# payment providers, IAP, currency rates and OAuth.
DEFAULT_RULES = (
    {"cidr": "0.0.0.0/0", "protocol": "TCP", "ports": [25, 465, 587]},
    {"cidr": "0.0.0.0/0", "protocol": "TCP", "ports": [993]},
    {"cidr": "0.0.0.0/0", "protocol": "TCP", "ports": [443]},
)
RULE_KEYS = ("cidr", "protocol", "ports")
PROTOCOLS = ("TCP", "UDP")
MAX_RULES = 32
MAX_PORTS = 32
MAX_EXCEPT = 64
_DIGITS = re.compile(r"^[0-9]{1,5}\Z")


@dataclass(frozen=True)
class EgressRule:
    cidr: str
    protocol: str
    ports: tuple
    field: str = field(default="egress", compare=False)  # where it was set, for error messages


@dataclass(frozen=True)
class ClosedRange:
    cidr: str
    why: str


def network(value, field_name):
    """A CIDR such as '10.1.0.0/16' (no host bits set), as its canonical text."""
    if not isinstance(value, str):
        raise SpecError(field_name, f"{shown(value)} is not a CIDR such as '203.0.113.0/24' or '0.0.0.0/0'")
    try:
        parsed = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as error:
        raise SpecError(field_name, f"{shown(value)} is not a CIDR such as '203.0.113.0/24' or '0.0.0.0/0' "
                                    f"({error})") from None
    return str(parsed)


def _port(value, field_name):
    if isinstance(value, str) and _DIGITS.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise SpecError(field_name, f"must be a port number from 1 to 65535, got {shown(value)}")
    return value


def _rule(raw, field_name):
    if not isinstance(raw, dict):
        raise SpecError(field_name, "must be a mapping with cidr, protocol (TCP or UDP) and ports, such as "
                                    "{cidr: 0.0.0.0/0, protocol: TCP, ports: [443]}")
    unknown = sorted(str(key) for key in raw if key not in RULE_KEYS)
    if unknown:
        raise SpecError(field_name, f"unknown key {shown(unknown[0])}; allowed: {', '.join(RULE_KEYS)}")
    protocol = raw.get("protocol", "TCP")
    if not isinstance(protocol, str) or protocol.upper() not in PROTOCOLS:
        raise SpecError(f"{field_name}.protocol", f"must be TCP or UDP, got {shown(protocol)}")
    ports = raw.get("ports")
    if not isinstance(ports, (list, tuple)) or not ports or len(ports) > MAX_PORTS:
        raise SpecError(f"{field_name}.ports", f"must be a list of 1 to {MAX_PORTS} port numbers (1-65535), "
                                               f"got {shown(ports)}")
    numbers = sorted({_port(port, f"{field_name}.ports[{index}]") for index, port in enumerate(ports)})
    return EgressRule(network(raw.get("cidr", "0.0.0.0/0"), f"{field_name}.cidr"), protocol.upper(), tuple(numbers),
                      field_name)


def load_rules(raw, field_name):
    """An allowlist: a list of {cidr, protocol, ports}; [] allows nothing outside."""
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_RULES:
        raise SpecError(field_name, f"must be a list of at most {MAX_RULES} rules such as "
                                    "{cidr: 0.0.0.0/0, protocol: TCP, ports: [25, 465, 587]}")
    return tuple(_rule(entry, f"{field_name}[{index}]") for index, entry in enumerate(raw))


def load_cidrs(raw, field_name):
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_EXCEPT:
        raise SpecError(field_name, f"must be a list of at most {MAX_EXCEPT} CIDRs such as '192.168.1.0/24'")
    return tuple(network(value, f"{field_name}[{index}]") for index, value in enumerate(raw))


def closed_ranges(pod_cidr, service_cidr, extra=()):
    """The ranges no egress rule opens, each with the reason an error gives."""
    return (
        *(ClosedRange(cidr, "the cloud metadata address") for cidr in METADATA_CIDRS),
        ClosedRange(pod_cidr, "the cluster's pod range (pod_cidr): other tenants and the platform's servers"),
        ClosedRange(service_cidr, "the cluster's service range (service_cidr): the API server and the shared servers"),
        *(ClosedRange(cidr, "a range of egress_except") for cidr in extra),
    )


def _inside(inner, outer):
    return inner.version == outer.version and inner.subnet_of(outer)


def check_rule(rule, closed):
    """Refuse a rule whose whole range is one no rule may open (it could not be carved out)."""
    own = ipaddress.ip_network(rule.cidr)
    for fence in closed:
        if _inside(own, ipaddress.ip_network(fence.cidr)):
            raise SpecError(f"{rule.field}.cidr", f"{rule.cidr} lies inside {fence.cidr}, {fence.why}, which tenant "
                                                  "egress never opens; allow addresses outside it")


def ip_block(rule, closed):
    """The rule's NetworkPolicy ipBlock: its range minus every closed range inside it."""
    return block_outside(rule.cidr, closed)


def block_outside(cidr, closed):
    """A NetworkPolicy ipBlock of `cidr` minus every closed range (ClosedRange) inside it."""
    block = {"cidr": cidr}
    carved = _carved(cidr, tuple(closed))
    if carved:
        block["except"] = list(carved)
    return block


@functools.lru_cache(maxsize=256)
def _carved(cidr, closed):
    """The closed ranges inside `cidr`, in address order. Cached: every tenant of a fleet has the
    same few rules and closed ranges, and parsing them is most of a tenant's policy building."""
    own = ipaddress.ip_network(cidr)
    return tuple(sorted({fence.cidr for fence in closed if _inside(ipaddress.ip_network(fence.cidr), own)},
                        key=lambda cidr: (ipaddress.ip_network(cidr).version, ipaddress.ip_network(cidr))))


def rules_for(plan, platform_rules):
    """A plan's allowlist: its own `egress` instead of the platform's when set, plus its
    `extra_egress`; a rule listed twice counts once."""
    chosen = plan.egress if plan.egress is not None else platform_rules
    unique = []
    for rule in (*chosen, *plan.extra_egress):
        if rule not in unique:
            unique.append(rule)
    return tuple(unique)
