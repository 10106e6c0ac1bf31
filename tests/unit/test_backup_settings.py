"""The backup platform options (request/backup_settings): a bad value is refused naming the
field and what is allowed, never echoing a key; good ones become the Job's target."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import encryption
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.backup_settings import load_backup_settings

S3 = {"kind": "s3", "endpoint": "https://s3.example.com", "bucket": "odoo-backups", "prefix": "prod/",
      "access_key": "AKIA123", "secret_key": "very-secret-key"}
IMAGE = "localhost:32000/odoo-saas-backup:1"


def _load(target=None, encryption_settings=None, image=IMAGE):
    return load_backup_settings({"backup_target": target, "backup_encryption": encryption_settings,
                                 "backup_image": image})


def test_no_target_means_no_backups():
    assert _load(None) is None


def test_an_s3_target_becomes_the_jobs_target_with_its_port_for_the_network_policy():
    settings = _load(S3)
    assert settings.target.kind == "s3" and settings.target.prefix == "prod" and settings.target.egress_port == 443
    assert settings.secret_key == "very-secret-key" and "very-secret-key" not in repr(settings)
    local = _load(dict(S3, endpoint="http://127.0.0.1:18333", egress_cidrs=["127.0.0.1/32"]))
    assert local.target.egress_port == 18333 and local.target.egress_cidrs == ("127.0.0.1/32",)
    sealed = _load(S3, {"recipient": encryption.public_of(encryption.new_identity())})
    assert sealed.recipient.startswith("age1")


@pytest.mark.parametrize("target, encryption_settings, image, field", [
    (dict(S3, kind="ftp"), None, IMAGE, "backup_target.kind"),
    (dict(S3, endpoint="s3.example.com"), None, IMAGE, "backup_target.endpoint"),
    (dict(S3, endpoint="http://s3.example.com"), None, IMAGE, "backup_target.endpoint"),
    (dict(S3, endpoint="https://s3.example.com/odoo-backups"), None, IMAGE, "backup_target.endpoint"),
    (dict(S3, bucket="Bad_Bucket"), None, IMAGE, "backup_target.bucket"),
    (dict(S3, bucket=None), None, IMAGE, "backup_target.bucket"),
    (dict(S3, secret_key=""), None, IMAGE, "backup_target.secret_key"),
    (dict(S3, prefix="../up"), None, IMAGE, "backup_target.prefix"),
    (dict(S3, egress_cidrs=["everywhere"]), None, IMAGE, "backup_target.egress_cidrs[0]"),
    ({"kind": "directory"}, None, IMAGE, "backup_target.claim"),
    (S3, {"recipient": "age1short"}, IMAGE, "backup_encryption.recipient"),
    (S3, {"identity": "AGE-SECRET-KEY-1NOPE"}, IMAGE, "backup_encryption.identity"),
    (S3, None, "", "backup_image"),
    (S3, None, "Not An Image", "backup_image"),
])
def test_bad_settings_are_refused_naming_the_field(target, encryption_settings, image, field):
    with pytest.raises(SpecError) as error:
        _load(target, encryption_settings, image)
    assert error.value.field == field
    assert "very-secret-key" not in str(error.value) and "AGE-SECRET-KEY-1NOPE" not in str(error.value)


def test_plain_http_off_loopback_needs_to_be_asked_for():
    assert _load(dict(S3, endpoint="http://minio.internal:9000", insecure=True)).target.egress_port == 9000
