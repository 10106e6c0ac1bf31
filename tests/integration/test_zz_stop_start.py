"""Start is idempotent, stop leaves no process behind, and state survives a restart.

Named to run last: it stops the whole platform and starts it again.
"""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from kubernetes import client

from tests.cluster import __main__ as cluster_cli
from tests.cluster import bootstrap, control_plane, object_store, settings, traefik
from tests.cluster.processes import port_open

pytestmark = pytest.mark.alone  # see tests/conftest.py


def _cli(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.cluster", command], cwd=settings.REPO,
                          capture_output=True, text=True, check=True)


def _pids() -> dict[str, int | None]:
    daemons = control_plane.daemons() + [traefik.daemon(), cluster_cli.provisioner_daemon(), object_store.daemon(),
                                         cluster_cli.job_kubelet_daemon()]
    return {d.name: d.pid() for d in daemons}


def test_start_twice_is_one_platform_and_stop_leaves_nothing(core, kubeconfig):
    before = _pids()
    assert all(before.values()), f"not everything is running: {before}"
    _cli("up")
    assert _pids() == before, "a second start must not start new processes"

    core.create_namespaced_config_map("default", {"metadata": {"name": "survives-restart"}})
    object_store.client().put_object(object_store.BUCKET, "tests/survives-restart", io.BytesIO(b"kept"), 4)
    try:
        _cli("down")
        assert cluster_cli.leftover_processes() == []
        ports = settings.PORTS
        for port in (ports.apiserver, ports.etcd_client, ports.postgres_ledger, ports.traefik_api, ports.s3):
            assert not port_open(port), f"port {port} still open after stop"
    finally:
        _cli("up")
    with bootstrap.api_client(kubeconfig) as api:
        restarted = client.CoreV1Api(api)
        assert restarted.read_namespaced_config_map("survives-restart", "default").metadata.name
        restarted.delete_namespaced_config_map("survives-restart", "default")
    kept = object_store.client().get_object(object_store.BUCKET, "tests/survives-restart")
    try:
        assert kept.read() == b"kept"
    finally:
        kept.close()
        kept.release_conn()
    object_store.client().remove_object(object_store.BUCKET, "tests/survives-restart")
