#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: ledger
short_description: Migrate the tenant ledger's schema and register the shared PostgreSQL servers
version_added: 0.1.0
description:
  - Applies the ledger's pending schema migrations, in order, each once.
  - Registers every server of O(shared_servers) with capacity O(shared_server_capacity) and its
    connection budget, read from the server itself (C(max_connections), and its reserved slots
    plus two platform sessions). Placement then takes a server only while its tenants'
    connection limits plus that reserve fit in C(max_connections).
  - Records the connection limit of tenants placed before the ledger counted it, from their plans in O(plans).
  - When a cluster is configured (O(kubeconfig) or O(host)), applies each shared server's
    NetworkPolicy in its namespace C(postgres-shared-N), so that PostgreSQL is reachable from tenant
    namespaces and the platform namespace only.
  - The ledger database itself must exist (C(playbooks/platform.yml) creates it).
author: Odoo SaaS Kit team (@odoo-saas-kit)
options: {}
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Reports the migrations and registrations it would make; changes nothing.
"""

EXAMPLES = r"""
- name: Migrate the ledger and register the shared servers
  odoo_saas.kit.ledger:
    ledger: "{{ odoo_saas_ledger }}"
    shared_servers: "{{ odoo_saas_shared_servers }}"
    shared_server_capacity: 50
"""

RETURN = r"""
migrations:
  description: "Schema migrations applied (or pending, in check mode), each as C(<version>: <description>)."
  returned: always
  type: list
  elements: str
servers:
  description: >-
    Each registered shared server with its tenant count and capacity, and its connection budget:
    the sum of its tenants' connection limits, the reserve, C(max_connections) and what is free.
  returned: always
  type: dict
  sample: {postgres-shared-1: {tenants: 12, capacity: 50, connections: {limits: 300, reserved: 5, max_connections: 500, free: 195}}}
server_policies:
  description: What happened to each shared server's NetworkPolicy (created, updated, unchanged).
  returned: when a cluster is configured
  type: dict
  sample: {postgres-shared-1: unchanged}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.ledger import run_ledger


def main():
    module = AnsibleModule(argument_spec=platform_args(), supports_check_mode=True)
    result, failure = run_ledger(module.params, module.check_mode)
    report(module, result, failure)


if __name__ == "__main__":
    main()
