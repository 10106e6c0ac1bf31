#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_backups
short_description: List one Odoo tenant's backups, and verify one
version_added: 0.2.0
description:
  - Lists the tenant's backups as the ledger records them (state, kind, size, age, parts and checksums) and whether
    the object store still holds each, plus complete backups the store holds that the ledger does not know, and
    backup ids the store holds parts of without a manifest (running, or left by a killed run; never restorable).
  - With O(verify), downloads that backup, checks every part's size and sha256 against its manifest, decrypts it
    with O(backup_encryption.identity) when it is encrypted, and reads it back whole (C(pg_restore --list) and a
    full read of the dump, every member of the filestore archive). Changes nothing.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  name:
    description: The tenant.
    type: str
    required: true
  verify:
    description: A backup id to download and verify.
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
- name: List acme's backups
  odoo_saas.kit.tenant_backups:
    name: acme
  register: listed

- name: Verify the newest complete one
  odoo_saas.kit.tenant_backups:
    name: acme
    verify: "{{ listed.last_complete.id }}"
"""

RETURN = r"""
backups:
  description: The tenant's backups, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - {id: 20261202-040506-manual-3fa2c1, kind: manual, state: complete, size: 104857600, age_seconds: 3600,
       in_store: true, in_ledger: true, encrypted: false}
last_complete:
  description: The newest complete backup in the ledger, or null.
  returned: always
  type: dict
incomplete_in_store:
  description: Backup ids with parts in the store but no manifest.
  returned: always
  type: list
  elements: str
verified:
  description: With O(verify), what was checked.
  returned: always
  type: dict
  sample: {id: 20261202-040506-manual-3fa2c1, checksums: match, database_entries: 812, filestore_entries: 42}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import run_tenant_backups


def main():
    module = AnsibleModule(argument_spec=platform_args(name=dict(type="str", required=True), verify=dict(type="str")),
                           supports_check_mode=True)
    result, failure = run_tenant_backups(module.params)
    report(module, result, failure)


if __name__ == "__main__":
    main()
