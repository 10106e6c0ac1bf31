"""Where the local control plane keeps its binaries and state, and which ports it uses.

Binaries are cached outside the repository (keyed by version) so every clone reuses them;
runtime state (certificates, etcd data, PostgreSQL clusters, logs) lives in the clone's
git-ignored `.local/` directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_MODULES = Path(__file__).resolve().parent / "build"

KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
# SeaweedFS publishes no module versions: the pseudo-version of the 4.53 release the Go proxy serves.
SEAWEEDFS_VERSION = "v0.0.0-20261109003541-7506e5f91cd6"

# Addresses nothing ever contacts: the API server needs a non-loopback address to
# advertise, and with `--endpoint-reconciler-type=none` it is never dialled.
ADVERTISE_ADDRESS = "192.0.2.10"
SERVICE_CIDR = "10.96.0.0/16"
NODE_NAMES = ("kwok-node-1", "kwok-node-2", "kwok-node-3")


def cache_dir() -> Path:
    explicit = os.environ.get("ODOO_SAAS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "odoo-saas-kit"


def state_dir() -> Path:
    return Path(os.environ.get("ODOO_SAAS_STATE", REPO / ".local"))


def bin_dir(component: str, version: str) -> Path:
    return cache_dir() / "bin" / f"{component}-{version}"


@dataclass(frozen=True)
class Ports:
    apiserver: int = 16443
    etcd_client: int = 12379
    etcd_peer: int = 12380
    controller_manager: int = 17257
    scheduler: int = 17259
    kwok: int = 17247
    traefik_web: int = 18000
    traefik_websecure: int = 18443
    traefik_api: int = 18080
    postgres_ledger: int = 15432
    postgres_shared_1: int = 15433
    postgres_shared_2: int = 15434
    # SeaweedFS (tests/cluster/object_store.py): its S3 gateway, and the master, volume server
    # and filer behind it; each also takes the gRPC port 10000 above its HTTP one.
    s3: int = 18333
    seaweed_master: int = 19333
    seaweed_volume: int = 18880
    seaweed_filer: int = 18888


PORTS = Ports()
