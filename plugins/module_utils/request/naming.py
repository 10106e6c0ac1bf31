# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tenant names and the names derived from them (namespace, database, role, host).

A tenant name is a DNS label that is also safe as the body of a PostgreSQL identifier:
lower-case letters, digits and single hyphens, starting with a letter. Derived names:
namespace `tenant-<name>`, database and role `odoo_<name with _ for ->`. The mapping is
one-to-one because tenant names never contain underscores.
"""

from __future__ import annotations

import re

from ..errors import SpecError, shown

MIN_LENGTH = 3
# Leaves room for the namespace prefix and for object names built from it (63-character
# DNS labels, 63-byte PostgreSQL identifiers, `<name>.<base domain>` host labels).
MAX_LENGTH = 40
NAMESPACE_PREFIX = "tenant-"
# Kubernetes object names: a DNS label (namespaces, most names) and a DNS subdomain.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
DATABASE_PREFIX = "odoo_"
BACKUP_KINDS = ("manual", "scheduled", "pre-update", "pre-restore", "final")
# A backup's id: when, which kind, 6 random hex. Lower case only: it is part of a Job's name.
BACKUP_ID = re.compile(r"^(?P<time>[0-9]{8}-[0-9]{6})-(?P<kind>" + "|".join(BACKUP_KINDS) + r")-[0-9a-f]{6}\Z")
NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*\Z")
DNS_NAME_PATTERN = re.compile(r"^(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\Z")

# Names that would read as, or collide with, the platform's own namespaces, databases or
# well-known hosts. Checked against the tenant name and its namespace.
RESERVED_NAMES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease", "saas-system", "saas-dev",
    "traefik", "ingress", "cert-manager", "container-registry", "metallb-system",
    "postgres", "postgresql", "template0", "template1", "public", "admin", "root", "odoo",
    "www", "api", "mail", "smtp", "ftp", "ns1", "ns2", "localhost", "tenant", "system",
})
RESERVED_PREFIXES = ("kube-", "saas-", "postgres-shared-", "system-", "pg-")


def check_tenant_name(name, field="name"):
    """Return the name if it is acceptable, else raise SpecError naming `field`."""
    if name is None or name == "":
        raise SpecError(field, "is required: a lower-case DNS label such as 'acme' or 'acme-shop'")
    if not isinstance(name, str):
        raise SpecError(field, f"must be a string, a lower-case DNS label such as 'acme' or 'acme-shop' (got {shown(name)})")
    if len(name) < MIN_LENGTH or len(name) > MAX_LENGTH:
        raise SpecError(field, f"{shown(name)} must be {MIN_LENGTH} to {MAX_LENGTH} characters long (is {len(name)})")
    if not NAME_PATTERN.match(name):
        raise SpecError(
            field,
            f"{shown(name)} is not allowed: use lower-case letters, digits and single hyphens, "
            "starting with a letter and ending with a letter or digit (no quotes, spaces, dots or underscores)",
        )
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise SpecError(field, f"{shown(name)} is reserved for the platform; choose another tenant name")
    return name


def namespace_for(name):
    return NAMESPACE_PREFIX + name


def database_for(name):
    return DATABASE_PREFIX + name.replace("-", "_")


def role_for(name):
    return database_for(name)


def check_host(host, field):
    """A fully qualified host name for an Ingress rule (lower-case, no wildcard, no port)."""
    if not isinstance(host, str) or not DNS_NAME_PATTERN.match(host):
        raise SpecError(field, f"{shown(host)} is not a valid host name (lower-case DNS name such as 'shop.example.com')")
    return host
