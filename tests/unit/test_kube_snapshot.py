"""Fleet reads (engines/kube_snapshot.py) through engines.kube.Kube, its HTTP boundary faked:
which GETs a LIST answers, and which must still reach the server."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube, KubeError
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube_snapshot import Prefetched

SELECTOR = "odoo-saas.io/tenant"


class _Server(Kube):
    """A Kube whose requests go to a dict of objects instead of an API server."""

    def __init__(self, objects, forbidden=()):
        super().__init__(api_client=None)
        self.objects = objects  # {(plural, namespace, name): object}
        self.forbidden = set(forbidden)
        self.sent = []

    def request(self, method, path, body=None, query=None, content_type="application/json"):
        self.sent.append((method, path, (query or {}).get("labelSelector")))
        self._count({"GET": "get", "PATCH": "apply", "DELETE": "delete"}[method])
        pieces = path.strip("/").split("/")
        if method == "GET" and pieces[-1] in ("secrets", "deployments", "namespaces"):  # a LIST
            if pieces[-1] in self.forbidden:
                raise KubeError("forbidden", 403)
            return {"items": [dict(obj) for (plural, _ns, _name), obj in self.objects.items() if plural == pieces[-1]]}
        key = (pieces[-2], pieces[-3] if "namespaces" in pieces[:-3] else None, pieces[-1])
        if method == "GET":
            return self.objects.get(key)
        return {}


def _secret(namespace, name):
    return {"metadata": {"name": name, "namespace": namespace, "labels": {SELECTOR: namespace}}}


def _kube(**kwargs):
    kube = _Server({("secrets", "tenant-a", "odoo-db"): _secret("tenant-a", "odoo-db"),
                    ("secrets", "tenant-b", "odoo-db"): _secret("tenant-b", "odoo-db")}, **kwargs)
    kube.prefetched = Prefetched(SELECTOR)
    return kube


def test_one_list_answers_every_tenants_get_with_what_a_get_returns():
    kube = _kube()
    first = kube.get("v1", "Secret", "odoo-db", "tenant-a")
    second = kube.get("v1", "Secret", "odoo-db", "tenant-b")
    assert kube.sent == [("GET", "/api/v1/secrets", SELECTOR)]
    assert first["metadata"]["namespace"] == "tenant-a" and second["metadata"]["namespace"] == "tenant-b"
    assert (first["apiVersion"], first["kind"]) == ("v1", "Secret")


def test_what_the_list_did_not_return_is_read_with_a_get():
    kube = _kube()
    assert kube.get("v1", "Secret", "odoo-config", "tenant-a") is None
    assert kube.sent[-1] == ("GET", "/api/v1/namespaces/tenant-a/secrets/odoo-config", None)
    assert kube.prefetched.misses == 1


def test_an_object_the_run_wrote_is_read_from_the_server_again():
    kube = _kube()
    kube.get("v1", "Secret", "odoo-db", "tenant-a")
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "odoo-db", "namespace": "tenant-a"}})
    kube.get("v1", "Secret", "odoo-db", "tenant-a")
    assert kube.sent[-1] == ("GET", "/api/v1/namespaces/tenant-a/secrets/odoo-db", None)


def test_a_check_mode_apply_writes_nothing_so_the_list_still_answers():
    kube = _kube()
    kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "odoo-db", "namespace": "tenant-a"}},
               check_mode=True)
    sent = len(kube.sent)
    kube.get("v1", "Secret", "odoo-db", "tenant-a")
    assert len(kube.sent) == sent


def test_a_kind_these_credentials_may_not_list_everywhere_is_read_object_by_object():
    kube = _kube(forbidden={"secrets"})
    assert kube.get("v1", "Secret", "odoo-db", "tenant-a")["metadata"]["name"] == "odoo-db"
    assert kube.get("v1", "Secret", "odoo-db", "tenant-b")["metadata"]["name"] == "odoo-db"
    assert [path for _method, path, _selector in kube.sent] == [
        "/api/v1/secrets", "/api/v1/namespaces/tenant-a/secrets/odoo-db", "/api/v1/namespaces/tenant-b/secrets/odoo-db"]


def test_a_wait_looks_at_the_list_once_then_asks_the_server():
    kube = _kube()
    looks = []

    def ready():
        looks.append(kube.get("v1", "Secret", "odoo-db", "tenant-a"))
        return len(looks) == 3
    kube.wait("the secret", ready, timeout=5, interval=0)
    assert [path for _method, path, _selector in kube.sent] == [
        "/api/v1/secrets", "/api/v1/namespaces/tenant-a/secrets/odoo-db", "/api/v1/namespaces/tenant-a/secrets/odoo-db"]
    kube.get("v1", "Secret", "odoo-db", "tenant-b")
    assert len(kube.sent) == 3, "after the wait, reads are answered by the list again"


def test_a_failing_list_is_not_taken_for_an_empty_one():
    kube = _Server({})
    kube.prefetched = Prefetched(SELECTOR)

    def broken(*_args, **_kwargs):
        raise KubeError("the API server is down", 503)
    kube.request = broken
    with pytest.raises(KubeError, match="down"):
        kube.get("v1", "Secret", "odoo-db", "tenant-a")


def test_a_list_older_than_its_max_age_is_taken_again_by_whoever_the_fleet_lists_with():
    lister = _kube()
    now = [100.0]
    asking = _kube()
    asking.prefetched = Prefetched(SELECTOR, kube=lister, max_age=60, clock=lambda: now[0])
    asking.get("v1", "Secret", "odoo-db", "tenant-a")
    now[0] += 59
    asking.get("v1", "Secret", "odoo-db", "tenant-b")
    assert lister.sent == [("GET", "/api/v1/secrets", SELECTOR)] and asking.sent == []
    now[0] += 2
    asking.get("v1", "Secret", "odoo-db", "tenant-a")
    assert lister.sent == [("GET", "/api/v1/secrets", SELECTOR)] * 2 and asking.sent == []


def test_a_fleet_keeps_only_its_tenants_objects_and_lets_a_finished_tenants_go():
    kube = _kube()
    kube.prefetched = Prefetched(SELECTOR, namespaces={"tenant-a"})
    assert kube.get("v1", "Secret", "odoo-db", "tenant-a")["metadata"]["namespace"] == "tenant-a"
    kube.get("v1", "Secret", "odoo-db", "tenant-b")  # not the fleet's: not kept, so read with a GET
    assert kube.sent[1:] == [("GET", "/api/v1/namespaces/tenant-b/secrets/odoo-db", None)]
    kube.prefetched.done("tenant-a")
    kube.get("v1", "Secret", "odoo-db", "tenant-a")
    assert kube.sent[-1] == ("GET", "/api/v1/namespaces/tenant-a/secrets/odoo-db", None)
    assert kube.prefetched.misses == 2


def test_a_workload_the_run_scaled_to_zero_is_read_from_the_server_again():
    kube = _Server({("deployments", "tenant-a", "odoo-web"): {
        "metadata": {"name": "odoo-web", "namespace": "tenant-a", "labels": {SELECTOR: "a"}}, "spec": {"replicas": 1}}})
    kube.prefetched = Prefetched(SELECTOR)
    kube.get("apps/v1", "Deployment", "odoo-web", "tenant-a")
    kube.scale_to_zero("Deployment", "odoo-web", "tenant-a")
    kube.get("apps/v1", "Deployment", "odoo-web", "tenant-a")
    assert kube.sent[-1] == ("GET", "/apis/apps/v1/namespaces/tenant-a/deployments/odoo-web", None)
