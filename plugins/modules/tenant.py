#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tenant
short_description: Provision, suspend, resume and decommission one isolated Odoo tenant
version_added: 0.1.0
description:
  - Converges one customer's Odoo instance to O(state) in its own namespace C(tenant-<name>),
    with its database on a shared PostgreSQL server or on a dedicated one, as its plan says.
  - Every step is idempotent; a run that died half way is finished by running it again.
    A second run with the same options changes nothing and writes nothing.
  - Check mode uses server-side dry run and catalog reads and changes nothing; diff mode shows
    each object's before and after, with secrets redacted.
  - Removal (O(state=absent)) needs O(confirm), takes a verified C(pg_dump) backup first
    (unless O(backup=false)) and drops nothing when the backup fails.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  name:
    description: The tenant's name, a DNS label of 3 to 40 characters (C(acme), C(acme-shop)).
    type: str
    required: true
  state:
    description:
      - C(present) provisions the tenant, or resumes a suspended one.
      - C(suspended) scales Odoo (and a dedicated database) to zero, keeping every byte of data.
      - C(absent) decommissions it.
    type: str
    choices: [present, suspended, absent]
    default: present
  plan:
    description: A plan of O(plans). Required for a new tenant; an existing tenant keeps its plan when omitted.
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
    description: Image to run instead of C(odoo:<odoo_version>), e.g. a custom image in the MicroK8s registry.
    type: str
  confirm:
    description: With O(state=absent), must equal O(name).
    type: str
  backup:
    description: With O(state=absent), take and verify a backup before dropping anything.
    type: bool
    default: true
  wait:
    description: Wait for the database initialisation and the rollout to finish.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each step.
    type: int
    default: 600
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Server-side dry run and catalog reads; nothing is changed.
  diff_mode:
    support: full
    description: Before and after of each object written, secrets redacted.
"""

EXAMPLES = r"""
- name: Provision a tenant on the small plan
  odoo_saas.kit.tenant:
    name: acme
    plan: small
    domains: [erp.acme.example]

- name: Suspend it
  odoo_saas.kit.tenant:
    name: acme
    state: suspended

- name: Decommission it (backup first)
  odoo_saas.kit.tenant:
    name: acme
    state: absent
    confirm: acme

# Set the platform connection once for every module of the collection:
- name: Provision from a play
  hosts: saas_controller
  module_defaults:
    group/odoo_saas.kit.platform:
      kubeconfig: "{{ odoo_saas_kubeconfig }}"
      ledger: "{{ odoo_saas_ledger }}"
      shared_servers: "{{ odoo_saas_shared_servers }}"
      base_domain: "{{ odoo_saas_base_domain }}"
      plans: "{{ odoo_saas_plans }}"
  tasks:
    - name: Provision
      odoo_saas.kit.tenant:
        name: acme
        plan: medium
"""

RETURN = r"""
tenant:
  description: The tenant's record after the run.
  returned: always
  type: dict
  sample:
    name: acme
    state: active
    plan: small
    namespace: tenant-acme
    database: {strategy: shared, server: postgres-shared-1, name: odoo_acme, connection_limit: 20}
    hosts: [acme.saas.example.com]
    urls: ["https://acme.saas.example.com/"]
operation:
  description:
    - The operation of the state machine the run took (docs/tenant-lifecycle.md) - C(provision),
      C(change), C(resume), C(suspend) or C(remove).
  returned: once the state machine has chosen it, also when the operation then fails
  type: str
  sample: resume
api_requests:
  description: Requests sent to the Kubernetes API server, by verb (C(get), C(apply), C(delete)). A no-op run sends only C(get).
  returned: always
  type: dict
  sample: {get: 18}
steps:
  description: Progress of the run, each line with the seconds elapsed.
  returned: always
  type: list
  elements: str
actions:
  description: What was done (or would be, in check mode) - objects written, SQL executed with passwords masked, backups.
  returned: always
  type: list
  elements: str
  sample: ["created Namespace tenant-acme", "SQL on postgres-shared-1: CREATE ROLE odoo_acme LOGIN ... PASSWORD '********'"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_args import TENANT_ARGS, WAIT_ARGS


def main():
    module = AnsibleModule(
        argument_spec=platform_args(**TENANT_ARGS, **WAIT_ARGS),
        supports_check_mode=True,
    )
    result, failure = run_tenant(module.params, module.check_mode)
    report(module, result, failure)


if __name__ == "__main__":
    main()
