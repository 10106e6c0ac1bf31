#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_backup
short_description: Back one Odoo tenant up now, in the cluster, to the environment's object store
version_added: 0.2.0
description:
  - Takes a backup of the tenant's database (C(pg_dump) custom format) and filestore with a Job in the tenant's
    namespace, so it works from any controller (AWX, Semaphore) and for dedicated PostgreSQL tenants.
  - The Job writes the parts, encrypted when O(backup_encryption.recipient) is set, then a manifest with each
    part's size and sha256; a backup exists only once its manifest does. The ledger records it (running,
    complete or failed).
  - Every check that can refuse runs first - a target configured, the store reachable with valid keys, a tenant
    that is active or suspended (a suspended dedicated tenant must be resumed first).
  - A run killed half way is finished by running it again - it finds the backup still running and waits for the
    same Job.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  name:
    description: The tenant.
    type: str
    required: true
  wait_timeout:
    description: Seconds to wait for the backup Job.
    type: int
    default: 600
  prune:
    description:
      - After the backup, apply the plan's retention (C(backups) in the plan - keep_daily, keep_weekly,
        keep_monthly; Odoo.sh's 7, 4 and 3 by default) to the tenant's other backups, removing the others from the
        store and marking them pruned in the ledger. Final backups of a removal are never pruned here.
    type: bool
    default: false
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Checks the tenant and the store, and says which backup it would take.
  diff_mode:
    support: full
    description: Shows the Job, its NetworkPolicy and the target Secret (redacted).
"""

EXAMPLES = r"""
- name: Back acme up before a risky change
  odoo_saas.kit.tenant_backup:
    name: acme
  register: taken

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ taken.backup.id }}: {{ taken.backup.size }} bytes"
"""

RETURN = r"""
backup:
  description: The backup as the ledger records it; null in check mode.
  returned: always
  type: dict
  sample:
    id: 20261202-040506-manual-3fa2c1
    kind: manual
    state: complete
    target: s3 https://s3.example.com/odoo-backups/prod
    size: 104857600
    parts:
      database: {key: acme/20261202-040506-manual-3fa2c1/database.dump, size: 52428800, sha256: 9f86d08..., entries: 812}
      filestore: {key: acme/20261202-040506-manual-3fa2c1/filestore.tar.gz, size: 52428800, sha256: 60303ae..., entries: 42}
    encrypted: false
pruned:
  description: The backup ids O(prune) removed (or would remove, in check mode).
  returned: always
  type: list
  elements: str
actions:
  description: What the run did (or would do, in check mode).
  returned: always
  type: list
  elements: str
steps:
  description: Progress, one line per step, with the seconds since the start.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.harness import report
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.platform_args import platform_args
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_backup import BACKUP_ARGS, run_tenant_backup


def main():
    module = AnsibleModule(argument_spec=platform_args(name=dict(type="str", required=True),
                                                       wait_timeout=dict(type="int", default=600),
                                                       **BACKUP_ARGS),
                           supports_check_mode=True)
    result, failure = run_tenant_backup(module.params, module.check_mode)
    report(module, result, failure)


if __name__ == "__main__":
    main()
