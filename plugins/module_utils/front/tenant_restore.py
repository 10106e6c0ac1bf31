# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant_restore module's entry: a backup (the tenant's own, or another tenant's) or an
Odoo export put in place of what the tenant holds (operations/restore)."""

from __future__ import annotations

from ..engines import backup_set
from ..errors import SaasError
from ..operations.restore import RestoreSource, restore_tenant
from ..request.naming import check_tenant_name
from .harness import guarded, step_recorder, tenant_run

# The tenant_restore module's options (without the platform's), also what the controller's
# restore requests take.
RESTORE_ARGS = dict(
    backup=dict(type="str"),
    from_tenant=dict(type="str"),
    odoo_export=dict(type="str"),
    safety_backup=dict(type="bool", default=True),
)


def check_import_key(key):
    """A key below the target's prefix: no leading /, no .. part, a .zip."""
    if not isinstance(key, str) or not key or key.startswith("/") or ".." in key.split("/") or not key.endswith(".zip"):
        raise SaasError(f"odoo_export: {key!r} is not an export's key in the store (a path below the target's prefix, "
                        "ending .zip, without .. or a leading /)")
    return key


def load_source(params, name):
    """The restore's source from `backup`, `from_tenant` and `import`, checked before anything."""
    backup_id, key, source_tenant = params.get("backup"), params.get("odoo_export"), params.get("from_tenant")
    if bool(backup_id) == bool(key):
        raise SaasError("backup, odoo_export: give exactly one - the id of a backup to restore, or the key of an Odoo "
                        "export (zip) in the store to import")
    if key:
        if source_tenant:
            raise SaasError("from_tenant: applies to a backup, not to odoo_export")
        return RestoreSource(import_key=check_import_key(key))
    backup_set.check_backup_id(backup_id, "backup")
    return RestoreSource(tenant=check_tenant_name(source_tenant, "from_tenant") if source_tenant else name,
                         backup_id=backup_id)


def run_tenant_restore(params, check_mode, progress=None):
    """Returns (result, failure message or None)."""
    steps, say = step_recorder(progress)

    result = {"changed": False, "actions": [], "diff": [], "steps": steps, "restore": None}
    runs = []

    def body(opened):
        name = check_tenant_name(params.get("name"))
        source = load_source(params, name)
        run, record = tenant_run(opened, params, check_mode, say)
        runs.append(run)
        result["restore"] = restore_tenant(run, record, source, safety_backup=params.get("safety_backup", True))
        # What the data becomes, beside the objects written: the tenant's database and files.
        run.diffs.append({"before_header": f"tenant {name} data", "after_header": f"tenant {name} data",
                          "before": f"database {record.database} and its filestore: what the tenant held\n",
                          "after": f"database {record.database} and its filestore: {source.describe()}\n"})

    failure = guarded(params, body)
    for run in runs:
        result.update(changed=run.changed, actions=run.actions, diff=run.diffs)
    return result, failure
