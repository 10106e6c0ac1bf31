#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenants
short_description: Converge many Odoo tenants in one task, several at a time
version_added: 0.2.0
description:
  - Brings every tenant of O(tenants) to its O(tenants[].state), each exactly as
    M(odoo_saas.kit.tenant) would (same options, same idempotence, check mode and diff), with
    up to O(parallel) tenants converging at once.
  - Every entry is checked before anything is touched; one bad entry fails the task with the
    entry and option named, and nothing is changed.
  - A tenant that fails does not stop the others; the task then fails listing the failed
    tenants, and running it again finishes them, leaving converged tenants as they are.
  - Use it to reconcile the whole fleet from the inventory, or to provision a batch; Ansible
    starts one module for all of them, and their waits for the cluster overlap.
  - Without check mode it first takes every listed tenant's ledger lock (waiting for a tenant
    another run is changing), then reads the cluster with one LIST per kind of object across
    the tenant namespaces and each shared server's catalog once; a no-op reconcile of the
    whole fleet costs a few API requests, whatever its size. A tenant's lock is released when
    its run ends. Check mode takes no lock.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  tenants:
    description: The tenants, each with the options of M(odoo_saas.kit.tenant).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The tenant's name, a DNS label of 3 to 40 characters.
        type: str
        required: true
      state:
        description: C(present), C(suspended) or C(absent), as in M(odoo_saas.kit.tenant).
        type: str
        choices: [present, suspended, absent]
        default: present
      plan:
        description: A plan of O(plans). Required for a new tenant.
        type: str
      db_strategy:
        description: Where the database lives; C(auto) takes the plan's choice.
        type: str
        choices: [auto, shared, dedicated]
        default: auto
      domains:
        description: Extra host names served besides C(<name>.<base_domain>).
        type: list
        elements: str
        default: []
      odoo_version:
        description: Odoo version of the official image.
        type: str
        choices: ["16.0", "17.0", "18.0", "19.0"]
        default: "18.0"
      image:
        description: Image to run instead of C(odoo:<odoo_version>).
        type: str
      confirm:
        description: With O(tenants[].state=absent), must equal O(tenants[].name).
        type: str
      backup:
        description: With O(tenants[].state=absent), take and verify a backup before dropping anything.
        type: bool
        default: true
  parallel:
    description: How many tenants converge at once (1 to 32).
    type: int
    default: 4
  wait:
    description: Wait for each tenant's database initialisation and rollout.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each step of each tenant.
    type: int
    default: 600
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Server-side dry run and catalog reads for every tenant; nothing is changed.
  diff_mode:
    support: full
    description: Before and after of each object written, secrets redacted.
"""

EXAMPLES = r"""
- name: Reconcile every tenant the inventory lists
  odoo_saas.kit.tenants:
    tenants: "{{ odoo_saas_tenants }}"
    parallel: 8

- name: Provision a batch
  odoo_saas.kit.tenants:
    tenants:
      - {name: acme, plan: small}
      - {name: globex, plan: medium, domains: [erp.globex.example]}
      - {name: initech, state: suspended}
"""

RETURN = r"""
tenants:
  description: One entry per tenant, in the order given.
  returned: always
  type: list
  elements: dict
  sample:
    - name: acme
      changed: true
      failed: false
      tenant: {name: acme, state: active, plan: small, namespace: tenant-acme}
      actions: ["created Namespace tenant-acme"]
      api_requests: {get: 31, apply: 18}
      steps: ["[  0.1s] tenant acme: placed on postgres-shared-1"]
summary:
  description: Tenant names by outcome.
  returned: always
  type: dict
  sample: {changed: [acme], unchanged: [globex], failed: []}
api_requests:
  description: Requests sent to the Kubernetes API server for all tenants, by verb.
  returned: always
  type: dict
  sample: {get: 48}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.fleet import run_fleet
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_args import TENANT_ARGS, WAIT_ARGS


def main():
    module = AnsibleModule(
        argument_spec=platform_args(
            tenants=dict(type="list", elements="dict", required=True, options=TENANT_ARGS),
            parallel=dict(type="int", default=4),
            **WAIT_ARGS,
        ),
        supports_check_mode=True,
    )
    result, failure = run_fleet(module.params, module.check_mode, diff=module._diff)
    report(module, result, failure)


if __name__ == "__main__":
    main()
