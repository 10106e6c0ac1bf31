#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_info
short_description: Health and drift of one Odoo tenant or all of them
version_added: 0.1.0
description:
  - Reads the ledger, the cluster and the database servers, and compares them. Changes nothing.
  - For each tenant, returns its record, whether Odoo is ready and its database reachable with
    the tenant's own credentials, and its drift - objects missing or changed by hand, and the
    ledger, the cluster and the databases disagreeing.
  - Without O(name), also lists tenant namespaces that the ledger does not know.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  name:
    description: One tenant; all tenants when omitted.
    type: str
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: The module only reads.
"""

EXAMPLES = r"""
- name: One tenant
  odoo_saas.kit.tenant_info:
    name: acme
  register: acme

- name: Every tenant, with drift
  odoo_saas.kit.tenant_info:
  register: all_tenants
"""

RETURN = r"""
tenants:
  description: One entry per tenant.
  returned: always
  type: list
  elements: dict
  sample:
    - name: acme
      state: active
      plan: small
      namespace: tenant-acme
      database: {strategy: shared, server: postgres-shared-1, name: odoo_acme, connection_limit: 20}
      urls: ["https://acme.saas.example.com/"]
      health: {odoo_ready: true, database_reachable: true}
      drift: []
orphan_namespaces:
  description: Tenant namespaces in the cluster that the ledger does not know.
  returned: always
  type: list
  elements: str
servers:
  description: >-
    Each shared server with its tenant count and capacity, and its connection budget (the sum of
    its tenants' connection limits, the reserve, C(max_connections) and what is free).
  returned: always
  type: dict
  sample: {postgres-shared-1: {tenants: 12, capacity: 50, connections: {limits: 300, reserved: 5, max_connections: 500, free: 195}}}
api_requests:
  description: >-
    The Kubernetes API requests the run made, by verb (a LIST counts as a get). Over every
    tenant, each kind of object is read with one LIST across the tenant namespaces (when the
    credentials may list it there), not one GET per tenant and object.
  returned: always
  type: dict
  sample: {get: 17}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info


def main():
    module = AnsibleModule(argument_spec=platform_args(name=dict(type="str")), supports_check_mode=True)
    result, failure = run_tenant_info(module.params)
    report(module, result, failure)


if __name__ == "__main__":
    main()
