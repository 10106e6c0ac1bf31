#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: platform_check
short_description: Check an inventory's platform settings with the modules' own validation
version_added: 0.2.0
description:
  - Checks the settings the platform modules (M(odoo_saas.kit.tenant), M(odoo_saas.kit.tenants),
    M(odoo_saas.kit.tenant_info), M(odoo_saas.kit.ledger)) would receive, by the same argument
    spec and the same validation they run, so a rule is written once. C(playbooks/validate.yml)
    runs it before any playbook touches a host.
  - Also checks the rules only an inventory has - its environment is one of C(local), C(dev),
    C(staging) or C(prod), and its shared servers are C(postgres-shared-1) to C(postgres-shared-N)
    in order.
  - Every problem names the inventory variable (C(odoo_saas_<option>), with the path inside it).
    One run reports a problem of each area (environment, kubeconfig, server count, plans, the
    other platform settings, ledger, shared servers); within an area, the first it finds.
    Connects to nothing and changes nothing.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  settings:
    description:
      - The platform modules' options, as C(odoo_saas_module_defaults) gives them
        (group_vars/all/platform.yml), without C(ledger), C(shared_servers), C(api_key), C(backup_target)
        and C(backup_encryption). What holds a password or a key is given as this module's own options
        O(ledger), O(shared_servers), O(backup_target) and O(backup_encryption) (needed by O(scopes)
        C(platform)), so that it stays out of its logs.
    type: dict
    required: true
  scopes:
    description:
      - C(common) - environment, domain, namespaces, capacity, plans, network, images, kubeconfig.
      - C(platform) - the ledger's and the shared servers' connection settings, and the backup target and key.
    type: list
    elements: str
    choices: [common, platform]
    default: [common]
  shared_server_count:
    description: The inventory's C(odoo_saas_shared_server_count).
    type: raw
    required: true
extends_documentation_fragment:
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: The module only reads its options.
"""

EXAMPLES = r"""
- name: Check the inventory before anything is touched
  odoo_saas.kit.platform_check:
    settings: >-
      {{ odoo_saas_module_defaults | ansible.builtin.dict2items
         | rejectattr('key', 'in', ['ledger', 'shared_servers']) | ansible.builtin.items2dict }}
    ledger: "{{ odoo_saas_ledger }}"
    shared_servers: "{{ odoo_saas_shared_servers }}"
    scopes: [common, platform]
    shared_server_count: "{{ odoo_saas_shared_server_count }}"
"""

RETURN = r"""
checked:
  description: The scopes that were checked.
  returned: always
  type: list
  elements: str
  sample: [common, platform]
warnings:
  description: Plans that cannot run (their pods do not fit their own quota); tenants on them are refused.
  returned: when there are any
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import PLATFORM_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_check import run_platform_check


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            ledger=PLATFORM_ARGS["ledger"],
            shared_servers=PLATFORM_ARGS["shared_servers"],
            backup_target=PLATFORM_ARGS["backup_target"],
            backup_encryption=PLATFORM_ARGS["backup_encryption"],
            scopes=dict(type="list", elements="str", choices=["common", "platform"], default=["common"]),
            shared_server_count=dict(type="raw", required=True),
        ),
        supports_check_mode=True,
    )
    result, failure = run_platform_check(module.params)
    report(module, result, failure)


if __name__ == "__main__":
    main()
