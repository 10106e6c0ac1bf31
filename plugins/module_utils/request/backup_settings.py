# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an environment's backups go and how they are sealed: the platform options
`backup_target`, `backup_encryption` and `backup_image`, validated before anything is touched.

`backup_target.kind` s3: any S3-compatible store (endpoint, bucket, prefix, region, keys); kind
directory: a PersistentVolumeClaim `claim` that each tenant namespace mounts (chosen
explicitly: a volume on the cluster is not off-site). `backup_encryption.recipient` (an age
public key) seals every part the Jobs write; `identity` (its secret half) is given only where a
restore or verify needs it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import SpecError
from .naming import DNS_SUBDOMAIN

PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}\Z")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
AGE_RECIPIENT = re.compile(r"^age1[0-9a-z]{58}\Z")
AGE_IDENTITY = re.compile(r"^AGE-SECRET-KEY-1[0-9A-Z]{58}\Z")
IMAGE = re.compile(r"^[a-z0-9][a-z0-9._:/@-]{0,254}\Z")
LOOPBACK_HOSTS = ("localhost",)


@dataclass(frozen=True)
class BackupTargetSettings:
    """The target as a Job sees it, without secrets (those are in the tenant's target Secret)."""

    kind: str  # s3 | directory
    endpoint: str = ""
    bucket: str = ""
    prefix: str = ""
    region: str = ""
    claim: str = ""  # directory: the PersistentVolumeClaim, in the tenant's namespace, holding the backups
    egress_cidrs: tuple = ()  # s3: where its endpoint is, for the Job's NetworkPolicy (default: outside the cluster)
    egress_port: int = 443

    def describe(self):
        if self.kind == "directory":
            return f"claim {self.claim}" + (f"/{self.prefix}" if self.prefix else "")
        return f"s3 {self.endpoint}/{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


@dataclass(frozen=True)
class BackupSettings:
    target: BackupTargetSettings
    image: str
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    recipient: str = ""
    identity: str = field(default="", repr=False)


def _text(raw, key, field_name, required=False, pattern=None, what=""):
    value = raw.get(key)
    if value in (None, ""):
        if required:
            raise SpecError(field_name, f"is required{': ' + what if what else ''}")
        return ""
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        shown = "(value not shown)" if "key" in key or key == "identity" else repr(value)
        raise SpecError(field_name, f"{shown} is not {what}")
    return value


def _endpoint(raw):
    endpoint = _text(raw, "endpoint", "backup_target.endpoint", True, what="an https:// address of the object store")
    address = urlsplit(endpoint)
    host = address.hostname or ""
    if address.scheme not in ("http", "https") or not host or address.path not in ("", "/") or address.query:
        raise SpecError("backup_target.endpoint", f"{endpoint!r} is not an address such as https://s3.example.com "
                                                  "(scheme, host, optional port; the bucket is its own option)")
    if address.scheme == "http" and not (host in LOOPBACK_HOSTS or _is_loopback(host)) and not raw.get("insecure"):
        raise SpecError("backup_target.endpoint", f"{endpoint!r} is plain http: backups would cross the network "
                                                  "unencrypted. Use https, or set backup_target.insecure: true")
    return endpoint.rstrip("/")


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _egress(raw, endpoint):
    cidrs = raw.get("egress_cidrs") or []
    if not isinstance(cidrs, (list, tuple)):
        raise SpecError("backup_target.egress_cidrs", "must be a list of CIDRs such as 203.0.113.0/24")
    checked = []
    for index, cidr in enumerate(cidrs):
        try:
            checked.append(str(ipaddress.ip_network(str(cidr), strict=False)))
        except ValueError:
            raise SpecError(f"backup_target.egress_cidrs[{index}]", f"{cidr!r} is not a CIDR such as 203.0.113.0/24") from None
    address = urlsplit(endpoint)
    port = address.port or (443 if address.scheme == "https" else 80)
    return tuple(checked), port


def load_backup_settings(params):
    """BackupSettings from the platform options, or None when no target is configured."""
    raw = params.get("backup_target")
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise SpecError("backup_target", "must be a mapping with kind: s3 or directory")
    kind = raw.get("kind")
    prefix = _text(raw, "prefix", "backup_target.prefix", pattern=PREFIX,
                   what="a key prefix of letters, digits, '.', '_', '-' and '/'").strip("/")
    if kind == "s3":
        endpoint = _endpoint(raw)
        cidrs, port = _egress(raw, endpoint)
        target = BackupTargetSettings(
            kind="s3", endpoint=endpoint, prefix=prefix, egress_cidrs=cidrs, egress_port=port,
            bucket=_text(raw, "bucket", "backup_target.bucket", True, BUCKET,
                         "an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')"),
            region=_text(raw, "region", "backup_target.region", pattern=re.compile(r"^[a-z0-9-]{1,40}\Z"),
                         what="a region name such as eu-west-1"))
        access_key = _text(raw, "access_key", "backup_target.access_key", True, what="the store's access key")
        secret_key = _text(raw, "secret_key", "backup_target.secret_key", True, what="the store's secret key")
    elif kind == "directory":
        target = BackupTargetSettings(kind="directory", prefix=prefix, claim=_text(
            raw, "claim", "backup_target.claim", True, DNS_SUBDOMAIN, "a PersistentVolumeClaim name"))
        access_key = secret_key = ""
    else:
        raise SpecError("backup_target.kind", f"{kind!r} is not one of s3, directory")
    sealing = params.get("backup_encryption") or {}
    if not isinstance(sealing, dict):
        raise SpecError("backup_encryption", "must be a mapping with recipient (and identity where a restore needs it)")
    recipient = _text(sealing, "recipient", "backup_encryption.recipient", pattern=AGE_RECIPIENT,
                      what="an age public key (age1 and 58 more characters, from age-keygen)")
    identity = _text(sealing, "identity", "backup_encryption.identity", pattern=AGE_IDENTITY,
                     what="an age secret key (AGE-SECRET-KEY-1...)")
    image = _text(params, "backup_image", "backup_image", True, IMAGE,
                  what="a container image reference such as localhost:32000/odoo-saas-backup:1")
    return BackupSettings(target=target, image=image, access_key=access_key, secret_key=secret_key,
                          recipient=recipient, identity=identity)
