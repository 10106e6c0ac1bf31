"""tenant_restore's input (front/tenant_restore.load_source): exactly one of a backup id and an
Odoo export's key, each checked and refused naming the field before anything is opened."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SaasError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_restore import load_source
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations.restore import RestoreSource

BACKUP = "20261202-020000-scheduled-3fa2c1"


def test_a_backup_of_the_tenant_itself_or_of_another_one():
    assert load_source({"backup": BACKUP}, "acme") == RestoreSource(tenant="acme", backup_id=BACKUP)
    assert load_source({"backup": BACKUP, "from_tenant": "globex"}, "acme").tenant == "globex"
    assert load_source({"odoo_export": "imports/acme.zip"}, "acme").as_dict() == {"import": "imports/acme.zip"}
    assert RestoreSource(tenant="acme", backup_id=BACKUP).as_dict() == {"tenant": "acme", "backup": BACKUP}


@pytest.mark.parametrize("params, message", [
    ({}, "backup, odoo_export: give exactly one"),
    ({"backup": BACKUP, "odoo_export": "imports/a.zip"}, "backup, odoo_export: give exactly one"),
    ({"backup": "last-night"}, "backup: 'last-night' is not a backup id"),
    ({"backup": BACKUP, "from_tenant": "Not A Name"}, "from_tenant"),
    ({"odoo_export": "imports/a.zip", "from_tenant": "globex"}, "from_tenant: applies to a backup"),
    ({"odoo_export": "../other-prefix/a.zip"}, "odoo_export: '../other-prefix/a.zip' is not"),
    ({"odoo_export": "/abs.zip"}, "odoo_export: '/abs.zip' is not"),
    ({"odoo_export": "imports/a.tar"}, "ending .zip"),
])
def test_bad_input_is_refused_naming_the_field(params, message):
    with pytest.raises(SaasError) as error:
        load_source(params, "acme")
    assert message in str(error.value)
