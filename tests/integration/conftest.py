"""Fixtures for tests against the running local platform (`make up` starts it).

These tests never skip: a platform that is not running is a failure, with the fix named.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import pg
from tests.cluster import __main__ as cluster_cli
from tests.cluster import bootstrap, control_plane, postgres

SHARED = next(server for server in postgres.SERVERS if server.name == "postgres-shared-1")


@pytest.fixture(scope="session")
def kubeconfig():
    status = cluster_cli.status()
    down = [name for name, up in status["control_plane"].items() if not up]
    if down:
        pytest.fail(f"the local control plane is not running ({', '.join(down)} down): run `make up` first")
    return control_plane.layout().kubeconfig


@pytest.fixture(scope="session")
def api(kubeconfig) -> Iterator[client.ApiClient]:
    with bootstrap.api_client(kubeconfig) as api_client:
        yield api_client


@pytest.fixture(scope="session")
def core(api) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def server() -> pg.ServerConnection:
    """Admin connection settings of the shared server postgres-shared-1."""
    return pg.ServerConnection(name=SHARED.name, host="127.0.0.1", port=SHARED.port, user=postgres.SUPERUSER,
                               password=SHARED.password(), connect_timeout=5)


@pytest.fixture
def admin(server):
    conn = pg.connect(server)
    yield conn
    conn.close()


@pytest.fixture
def namespace(core) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    _wait_for_default_service_account(core, name)
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise


def _wait_for_default_service_account(core, namespace: str) -> None:
    # Pods are refused until the ServiceAccount controller has made the `default` account.
    wait_for(lambda: core.read_namespaced_service_account("default", namespace), 30, "the default ServiceAccount")


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.3):
    """Poll check() until it returns something truthy (ApiException 404 counts as not yet)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except ApiException as error:
            if error.status != 404:
                raise
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def gone(read, *args) -> bool:
    """True once read(*args) answers 404."""
    try:
        read(*args)
    except ApiException as error:
        return error.status == 404
    return False


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory):
    """A scratch, migrated ledger database for one test module; its tenants are removed after."""
    from . import tenants
    name = tenants.create_ledger()
    yield name
    tenants.remove_all(name, tmp_path_factory.mktemp("cleanup"))
    tenants.drop_ledger(name)


def restricted_pod_spec(name: str = "app") -> dict:
    """A container spec that passes Pod Security `restricted`."""
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 100, "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": False,
        "containers": [{
            "name": name,
            "image": "registry.invalid/test:1",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        }],
    }
