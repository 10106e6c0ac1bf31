# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of one tenant: the tenant module's own, and each entry of the tenants module's
O(tenants) list."""

from __future__ import annotations

from ..request.odoo_versions import DEFAULT_ODOO_VERSION, ODOO_VERSIONS

TENANT_ARGS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "suspended", "absent"], default="present"),
    plan=dict(type="str"),
    db_strategy=dict(type="str", choices=["auto", "shared", "dedicated"], default="auto"),
    domains=dict(type="list", elements="str", default=[]),
    odoo_version=dict(type="str", choices=list(ODOO_VERSIONS), default=DEFAULT_ODOO_VERSION),
    image=dict(type="str"),
    confirm=dict(type="str"),
    backup=dict(type="bool", default=True),
)

WAIT_ARGS = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
)


def tenant_defaults():
    """Each tenant option's default (None where it has none), for callers outside Ansible."""
    return {option: spec.get("default") for option, spec in TENANT_ARGS.items()}
