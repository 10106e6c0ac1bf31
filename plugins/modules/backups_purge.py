#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: backups_purge
short_description: Remove the final backups of removed Odoo tenants whose grace period has passed
version_added: 0.2.0
description:
  - A removal keeps the tenant's final backup for its plan's C(backups.keep_final_days) (30 by default) - the soft
    delete; until then the tenant can be undeleted from it (C(playbooks/tenant_undelete.yml)).
  - This module removes, from the environment's object store, every final backup whose expiry has passed (manifest
    first, so each is whole or invisible), marks it pruned in the ledger, and returns what it removed.
  - A purge killed half way is finished by the next one. Backups recorded in another target than this
    environment's are left alone, with a warning.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options: {}
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Lists what it would remove.
  diff_mode:
    support: none
    description: Returns no diff; RV(purged) lists what went.
"""

EXAMPLES = r"""
- name: Purge expired final backups (a nightly job template)
  odoo_saas.kit.backups_purge:
  register: purge

- name: Say what went
  ansible.builtin.debug:
    msg: "{{ purge.purged | map(attribute='id') | list }}"
"""

RETURN = r"""
purged:
  description: The backups removed (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample:
    - {tenant: acme, id: 20261101-101500-final-3fa2c1, kind: final, size: 104857600, expired_at: "2026-12-01T10:15:07+00:00"}
actions:
  description: What the run did (or would do, in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.backups_purge import run_backups_purge
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args


def main():
    module = AnsibleModule(argument_spec=platform_args(), supports_check_mode=True)
    result, failure = run_backups_purge(module.params, module.check_mode)
    report(module, result, failure)


if __name__ == "__main__":
    main()
