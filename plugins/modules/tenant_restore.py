#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_restore
short_description: Restore an Odoo tenant from a backup, or import an Odoo database-manager export into it
version_added: 0.2.0
description:
  - Replaces what the tenant's database and filestore hold with a backup from the environment's object store - the
    tenant's own (a restore), another tenant's (O(from_tenant) - a restore into a new tenant, whose filestore
    directory is named after its own database), or an Odoo database-manager export zip (O(odoo_export) - an import).
  - Every check that can refuse runs first - the tenant active or suspended, the backup complete in the store and
    of the tenant's Odoo major version, the identity for an encrypted backup, the store reachable with valid keys.
  - Then Odoo is stopped (its Deployments; a dedicated PostgreSQL stays up), a safety backup of kind C(pre-restore)
    is taken unless O(safety_backup=false), and a Job in the tenant's namespace downloads the parts, checks their
    sha256, and replaces the database in one transaction (the old data stays until it commits) and then the
    filestore. Odoo is brought back at the replicas it had.
  - A Job that fails before the database is replaced leaves the data as it was and brings Odoo back. A run killed
    half way, or one whose Job failed after the replacement, is finished by running it again with the same source.
  - A restore into a new tenant is a clone - it still sends mail and runs crons as the original did. Neutralise it
    (C(odoo neutralize)) before anyone uses it as a staging copy.
author: Odoo SaaS Kit team (@odoo-saas-kit)
options:
  name:
    description: The tenant restored into. It must exist - provision a new tenant first to restore into a new one.
    type: str
    required: true
  backup:
    description:
      - The id of the backup to restore (as M(odoo_saas.kit.tenant_backups) lists them). Mutually exclusive with
        O(odoo_export).
    type: str
  from_tenant:
    description:
      - Whose backup it is, when not the tenant's own - a removed tenant's final backup included.
    type: str
  odoo_export:
    description:
      - The key, below the target's prefix, of an Odoo database-manager export (zip with C(dump.sql),
        C(filestore/) and C(manifest.json)) to import. It must be of the tenant's Odoo major version.
    type: str
  safety_backup:
    description: Take a backup of kind C(pre-restore) of what the tenant holds before it is replaced.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each Job, and for Odoo to be ready again.
    type: int
    default: 600
extends_documentation_fragment:
  - odoo_saas.kit.platform
  - odoo_saas.kit.platform.databases
attributes:
  check_mode:
    support: full
    description: Checks the tenant, the store and the backup, and says what it would stop, back up and replace.
  diff_mode:
    support: full
    description: Shows the objects written (the target Secret redacted) and what the tenant's data becomes.
"""

EXAMPLES = r"""
- name: Put acme back as it was this morning
  odoo_saas.kit.tenant_restore:
    name: acme
    backup: 20261202-020000-scheduled-3fa2c1

- name: Restore acme's backup into a new tenant (provisioned before)
  odoo_saas.kit.tenant_restore:
    name: acme-copy
    from_tenant: acme
    backup: 20261202-020000-scheduled-3fa2c1

- name: Import a database exported from Odoo's database manager
  odoo_saas.kit.tenant_restore:
    name: newcustomer
    odoo_export: imports/newcustomer.zip
"""

RETURN = r"""
restore:
  description: What was restored; null in check mode.
  returned: success
  type: dict
  sample:
    run: 20261203-101500-a1b2c3
    source: {tenant: acme, backup: 20261202-020000-scheduled-3fa2c1}
    job: tenant-acme/restore-20261203-101500-a1b2c3
    safety_backup: 20261203-101502-pre-restore-9f8e7d
    size: 104857600
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
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_restore import RESTORE_ARGS, run_tenant_restore


def main():
    module = AnsibleModule(argument_spec=platform_args(name=dict(type="str", required=True), **RESTORE_ARGS,
                                                       wait_timeout=dict(type="int", default=600)),
                           mutually_exclusive=[("backup", "odoo_export"), ("from_tenant", "odoo_export")],
                           required_one_of=[("backup", "odoo_export")],
                           supports_check_mode=True)
    result, failure = run_tenant_restore(module.params, module.check_mode)
    report(module, result, failure)


if __name__ == "__main__":
    main()
