# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's passwords: generated once, then read back from its Secrets on every run.

The Secrets in the tenant's namespace are the source of truth: they are written before the
database role is created with the same password, so a run killed in between is finished by
the next one with the same password.
"""

from __future__ import annotations

import base64
import configparser
import secrets as random_secrets

from ..manifests.tenant import TenantSecrets
from ..manifests.base import CONFIG_SECRET, DB_SECRET, POSTGRES_SECRET


def generate(dedicated):
    return TenantSecrets(
        db_password=random_secrets.token_urlsafe(32),
        admin_password=random_secrets.token_urlsafe(32),
        postgres_password=random_secrets.token_urlsafe(32) if dedicated else None,
    )


def _decoded(secret, key):
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def _admin_password(config_secret):
    text = _decoded(config_secret, "odoo.conf")
    if not text:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser.get("options", "admin_passwd", fallback=None)


def read_or_generate(kube, namespace, dedicated):
    """The tenant's current passwords, keeping each one its Secrets already hold."""
    db_secret = kube.get("v1", "Secret", DB_SECRET, namespace)
    config_secret = kube.get("v1", "Secret", CONFIG_SECRET, namespace)
    postgres_secret = kube.get("v1", "Secret", POSTGRES_SECRET, namespace) if dedicated else None
    kept = TenantSecrets(
        db_password=_decoded(db_secret, "password"),
        admin_password=_admin_password(config_secret),
        postgres_password=_decoded(postgres_secret, "postgres-password") if dedicated else None,
    )
    if kept.db_password and kept.admin_password and (kept.postgres_password or not dedicated):
        return kept
    fresh = generate(dedicated)
    return TenantSecrets(
        db_password=kept.db_password or fresh.db_password,
        admin_password=kept.admin_password or fresh.admin_password,
        postgres_password=(kept.postgres_password or fresh.postgres_password) if dedicated else None,
    )
