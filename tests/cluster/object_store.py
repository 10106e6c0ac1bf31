"""The local platform's object store, where backups go: SeaweedFS's S3 gateway on loopback
(production uses the VPS provider's object storage, AWS S3, Backblaze or a self-hosted one).

Not a mock: a real S3 API (signature v4 authentication, multipart uploads, listings), built
from SeaweedFS's Go module (tests/cluster/build/seaweedfs). One process, `weed server -s3`,
runs its master, volume server, filer and gateway, every one bound to 127.0.0.1. The access
key's secret is generated once into the clone's state directory (root only), as the
PostgreSQL passwords are.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from . import build, settings
from .processes import Daemon, wait_until

PORTS = settings.PORTS
BUCKET = "odoo-saas-backups"
ACCESS_KEY = "odoo-saas-local"
REGION = "us-east-1"
GRPC_OFFSET = 10000
VOLUME_SIZE_LIMIT_MB = 256  # small volumes: the tests' backups are small, and the disk is shared


def root() -> Path:
    return settings.state_dir() / "object-store"


def secret_file() -> Path:
    return root() / "secret-key"


def secret_key() -> str:
    return secret_file().read_text().strip()


def endpoint() -> str:
    return f"127.0.0.1:{PORTS.s3}"


def _identities() -> Path:
    return root() / "s3.json"


def _write_config() -> None:
    (root() / "data").mkdir(parents=True, exist_ok=True)
    if not secret_file().exists():
        secret_file().touch(mode=0o600)
        secret_file().write_text(secrets.token_urlsafe(30) + "\n")
    identities = {"identities": [{"name": "backups", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": secret_key()}],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    _identities().touch(mode=0o600)
    _identities().write_text(json.dumps(identities))


def daemon() -> Daemon:
    loopback = "127.0.0.1"
    argv = [
        str(build.binary("weed")), "server", f"-ip={loopback}", f"-ip.bind={loopback}", f"-dir={root() / 'data'}",
        f"-master.port={PORTS.seaweed_master}", f"-master.port.grpc={PORTS.seaweed_master + GRPC_OFFSET}",
        f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}", "-volume.max=0",
        f"-volume.port={PORTS.seaweed_volume}", f"-volume.port.grpc={PORTS.seaweed_volume + GRPC_OFFSET}",
        # Its master is in the same process: no need to wait 10 s for it to notice the volumes go.
        "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={PORTS.seaweed_filer}", f"-filer.port.grpc={PORTS.seaweed_filer + GRPC_OFFSET}",
        f"-filer.localSocket={root() / 'filer.sock'}",
        "-s3", f"-s3.port={PORTS.s3}", f"-s3.port.grpc={PORTS.s3 + GRPC_OFFSET}", f"-s3.config={_identities()}",
        # Off: the Iceberg and Lance catalogs the gateway would otherwise serve on ports of their own.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    return Daemon("object-store", settings.state_dir() / "run", argv)


def _refuses_anonymous() -> bool:
    """The gateway answers, and with authentication on: an unsigned request gets 403."""
    try:
        urllib.request.urlopen(f"http://{endpoint()}/", timeout=2)  # noqa: S310 - loopback only
    except urllib.error.HTTPError as error:
        return error.code == 403
    return False


def client():
    from minio import Minio

    return Minio(endpoint(), access_key=ACCESS_KEY, secret_key=secret_key(), secure=False, region=REGION)


def _bucket_ready() -> bool:
    s3 = client()
    if not s3.bucket_exists(BUCKET):
        s3.make_bucket(BUCKET)
    return s3.bucket_exists(BUCKET)


def start() -> bool:
    """Start unless running, then wait for the gateway and the backups' bucket; True if it started."""
    proc = daemon()
    started = False
    if not proc.running():
        _write_config()
        proc.start()
        started = True
    wait_until("the object store's S3 gateway", _refuses_anonymous, 90, proc)
    # The filer and the first volumes come up a moment after the gateway answers.
    wait_until(f"the object store's bucket {BUCKET}", _bucket_ready, 60, proc)
    return started


def stop() -> bool:
    return daemon().stop()


def status() -> dict:
    return {"running": daemon().running(), "endpoint": endpoint(), "bucket": BUCKET,
            "secret_file": str(secret_file()) if secret_file().exists() else None}
