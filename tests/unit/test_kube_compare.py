"""What the tenant runs and tenant_info compare a live object with: the desired object stamped with
the hash of its content (with_hash), and whether a live object already holds it (up_to_date)."""

from __future__ import annotations

import base64
import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import (
    APPLIED_HASH, applied_hash, contains, up_to_date, with_hash)
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations import credentials
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations.info import Reads
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.base import CONFIG_SECRET, DB_SECRET

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "odoo-web", "namespace": "tenant-a", "labels": {"app": "odoo"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "odoo", "image": "odoo:18.0", "args": ["--proxy-mode"],
         "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}},
}


def _live(desired):
    """The object as the API server returns it: ours plus its defaults and bookkeeping."""
    live = copy.deepcopy(desired)
    live["metadata"].update(uid="0b3c", resourceVersion="42", managedFields=[{"manager": "odoo-saas-kit"}])
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["status"] = {"readyReplicas": 1}
    return live


def test_the_stamped_object_is_a_copy_with_the_hash_of_its_content():
    original = copy.deepcopy(DEPLOYMENT)
    stamped = with_hash(DEPLOYMENT)
    assert DEPLOYMENT == original, "with_hash changed the caller's object"
    assert stamped["metadata"]["annotations"][APPLIED_HASH] == applied_hash(DEPLOYMENT)
    del stamped["metadata"]["annotations"]
    assert stamped == DEPLOYMENT
    stamped["spec"]["template"]["spec"]["containers"][0]["args"].append("--dev")
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["args"] == ["--proxy-mode"], "the copy shares lists"


def test_the_hash_follows_the_content_not_the_order_of_keys():
    reordered = {key: DEPLOYMENT[key] for key in reversed(list(DEPLOYMENT))}
    assert applied_hash(reordered) == applied_hash(DEPLOYMENT)
    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["replicas"] = 2
    assert applied_hash(changed) != applied_hash(DEPLOYMENT)


def test_a_secrets_string_data_is_folded_into_data_as_the_server_stores_it():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "tenant-a"},
              "data": {"kept": base64.b64encode(b"as it was").decode()}, "stringData": {"password": "s3cret"}}
    stamped = with_hash(secret)
    assert "stringData" not in stamped and "stringData" in secret
    assert stamped["data"] == {"kept": secret["data"]["kept"], "password": base64.b64encode(b"s3cret").decode()}
    assert secret["data"] == {"kept": base64.b64encode(b"as it was").decode()}, "the caller's data was changed"
    # The Secret as the server returns it after that apply (data only) is up to date.
    stored = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "namespace": "tenant-a", "uid": "7f",
                           "annotations": {APPLIED_HASH: stamped["metadata"]["annotations"][APPLIED_HASH]}},
              "data": {"password": "czNjcmV0", "kept": "YXMgaXQgd2Fz"}}
    assert up_to_date(stored, stamped)


def test_a_live_object_with_the_servers_additions_is_up_to_date():
    wanted = with_hash(DEPLOYMENT)
    assert up_to_date(_live(wanted), wanted)


@pytest.mark.parametrize("edit", [
    lambda live: live["spec"].update(replicas=3),
    lambda live: live["spec"]["template"]["spec"]["containers"][0]["args"].append("--dev"),
    lambda live: live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].update(cpu="600m"),
    lambda live: live["metadata"]["labels"].pop("app"),
    lambda live: live["spec"]["template"]["spec"].update(containers=[]),
    lambda live: live["metadata"]["annotations"].update({APPLIED_HASH: "an older hash"}),
], ids=["field", "list item added", "quantity", "label removed", "list emptied", "older hash"])
def test_a_change_by_hand_or_an_older_apply_is_not_up_to_date(edit):
    wanted = with_hash(DEPLOYMENT)
    live = _live(wanted)
    edit(live)
    assert not up_to_date(live, wanted)


def test_quantities_are_compared_by_value():
    assert contains({"cpu": "0.5", "memory": "1024Mi"}, {"cpu": "500m", "memory": "1Gi"})
    assert not contains({"cpu": "0.6"}, {"cpu": "500m"})
    assert not contains({"cpu": "500m"}, {"cpu": 500})
    assert not contains(["a"], ["a", "b"]) and not contains({"a": 1}, {"a": 1, "b": 2})
    assert not contains("a", {"a": 1}) and not contains({"a": 1}, [{"a": 1}])


class _Secrets:
    def __init__(self, **stored):
        self.stored = stored

    def get(self, api_version, kind, name, namespace):
        return self.stored.get(name)


def _secret(**data):
    return {"data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def test_stored_passwords_are_kept_and_only_missing_ones_are_generated():
    config = _secret(**{"odoo.conf": "[options]\nadmin_passwd = master\n"})
    kept = credentials.read_or_generate(_Secrets(**{DB_SECRET: _secret(password="db-pass"), CONFIG_SECRET: config}),
                                        "tenant-a", dedicated=False)
    assert (kept.db_password, kept.admin_password, kept.postgres_password) == ("db-pass", "master", None)

    half = credentials.read_or_generate(_Secrets(**{DB_SECRET: _secret(password="db-pass")}), "tenant-a", dedicated=True)
    assert half.db_password == "db-pass"
    assert len(half.admin_password) >= 32 and len(half.postgres_password) >= 32
    assert half.admin_password != half.postgres_password


def test_the_fleets_logins_run_beside_and_their_pool_ends_even_when_one_fails():
    reads = Reads(backups=None, logins=[], login_pool=ThreadPoolExecutor(max_workers=2))
    started = threading.Event()
    first, second = {}, {}

    def refused():
        started.wait(5)
        raise RuntimeError("the server went away")
    reads.try_login(first, lambda: started.set() or True)
    reads.try_login(second, refused)
    with pytest.raises(RuntimeError, match="went away"):
        reads.finish_logins()
    assert first["database_reachable"] is True
    assert reads.login_pool._shutdown
    abandoned = Reads(backups=None, logins=[], login_pool=ThreadPoolExecutor(max_workers=1))
    release = threading.Event()
    abandoned.try_login({}, lambda: release.wait(5))
    queued = {}
    abandoned.try_login(queued, lambda: queued.setdefault("ran", True))
    abandoned.abandon_logins()  # returns at once; the one not started never runs
    release.set()
    abandoned.login_pool.shutdown(wait=True)
    assert queued == {}
    per_tenant = Reads(backups=None)
    health = {}
    per_tenant.try_login(health, lambda: False)
    assert health == {"database_reachable": False}
    per_tenant.finish_logins()
