"""The pod addresses kwok hands out: loopback, so a stand-in server can answer on them.

kwok gives each pod an address from its Node's `spec.podCIDR` (or, for a Node without one,
from its `--cidr` flag). Both are ranges of 127.0.0.0/8, which Linux routes to the loopback
interface as a whole: a process can bind 127.1.1.7:8069 without any network setup, and
traffic Traefik sends to a pod never leaves the machine.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Nodes the local platform did not create (none today) share this range.
UNASSIGNED_NODES_CIDR = "127.1.0.0/24"


def node_pod_cidr(index: int) -> str:
    """Pods of the index-th Node (1-based) get 127.1.<index>.1 ... 127.1.<index>.254. kwok
    allocates past the end of a range instead of failing, but a Node holds at most 110 pods."""
    if not 1 <= index <= 254:
        raise ValueError(f"node index {index}: allowed 1-254")
    return f"127.1.{index}.0/24"


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address) in LOOPBACK
