"""Command line of the local control plane: build | up | down | status.

    python -m tests.cluster up      # build once (cached), start everything, idempotent
    python -m tests.cluster down    # stop everything, leave no process behind
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import bootstrap, build, cert_manager, control_plane, job_kubelet, object_store, postgres, settings, traefik
from .processes import Daemon, wait_until
from .progress import step


def loopback_endpoints_daemon() -> Daemon:
    """Publishes pods' loopback addresses in EndpointSlices Traefik can use (see the module)."""
    paths = control_plane.layout()
    return Daemon(
        "loopback-endpoints", paths.run,
        [sys.executable, "-m", "tests.cluster.loopback_endpoints", str(paths.kubeconfig)],
        env=dict(os.environ, PYTHONPATH=str(settings.REPO)),
    )


def provisioner_daemon() -> Daemon:
    paths = control_plane.layout()
    return Daemon(
        "provisioner", paths.run,
        [sys.executable, "-m", "tests.cluster.provisioner", str(paths.kubeconfig), str(paths.root / "volumes")],
        env=dict(os.environ, PYTHONPATH=str(settings.REPO)),
    )


def job_kubelet_daemon() -> Daemon:
    """Runs the backup and restore Jobs' pods for real (see tests/cluster/job_kubelet.py)."""
    paths = control_plane.layout()
    return Daemon(
        "job-kubelet", paths.run,
        [sys.executable, "-m", "tests.cluster.job_kubelet", str(paths.kubeconfig), str(paths.root / "job-logs")],
        env=dict(os.environ, PYTHONPATH=str(settings.REPO)),
    )


def up() -> None:
    started = time.monotonic()
    build.ensure_built()
    paths = control_plane.start()
    bootstrap.apply(paths.kubeconfig)
    step("up", "Nodes, StorageClass, Traefik RBAC and IngressClass applied")
    if provisioner_daemon().start():
        step("up", "started the hostpath volume provisioner")
    if loopback_endpoints_daemon().start():
        step("up", "started the loopback EndpointSlice publisher")
    _wait_nodes_ready(paths.kubeconfig)
    postgres.start()
    if object_store.start():
        step("up", f"started the object store (SeaweedFS S3 on {object_store.endpoint()}, bucket {object_store.BUCKET})")
    if traefik.start(paths.kubeconfig, paths.pki / "ca.crt"):
        step("up", "started Traefik")
    if job_kubelet_daemon().start():
        step("up", f"started the kubelet stand-in for backup and restore Jobs (image {job_kubelet.STAND_IN_IMAGE})")
    if cert_manager.start(paths.kubeconfig):
        step("up", "started cert-manager's controller")
    step("up", f"ClusterIssuers Ready; tenants' certificates are signed by {cert_manager.ca_issuer()}")
    step("up", f"local platform ready in {time.monotonic() - started:.0f}s; KUBECONFIG={paths.kubeconfig}")
    step("up", f"kubectl (built with the control plane): export KUBECONFIG={paths.kubeconfig} "
               f"PATH={build.binary('kubectl').parent}:$PATH")


def _wait_nodes_ready(kubeconfig) -> None:
    from kubernetes import client

    def ready() -> bool:
        with bootstrap.api_client(kubeconfig) as api:
            nodes = client.CoreV1Api(api).list_node().items
        ready_names = {
            n.metadata.name for n in nodes
            if any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
        }
        return set(settings.NODE_NAMES) <= ready_names

    wait_until("the kwok Nodes to be Ready", ready, 60)
    step("up", f"{len(settings.NODE_NAMES)} Nodes Ready")


def down() -> None:
    traefik.daemon().stop() and step("down", "stopped Traefik")
    cert_manager.daemon().stop() and step("down", "stopped cert-manager's controller")
    provisioner_daemon().stop() and step("down", "stopped the volume provisioner")
    loopback_endpoints_daemon().stop() and step("down", "stopped the loopback EndpointSlice publisher")
    job_kubelet_daemon().stop() and step("down", "stopped the kubelet stand-in for backup Jobs")
    object_store.stop() and step("down", "stopped the object store")
    control_plane.stop()
    postgres.stop()
    leftovers = leftover_processes()
    if leftovers:
        raise SystemExit(f"processes still running after stop: {leftovers}")
    step("down", "everything stopped")


def leftover_processes() -> list[str]:
    """Processes started from this clone's state or the cached binaries."""
    markers = [str(settings.state_dir()), str(settings.cache_dir() / "bin"), "tests.cluster.provisioner",
               "tests.cluster.loopback_endpoints", "tests.cluster.job_kubelet"]
    if settings.state_dir().exists():
        markers.append(str(postgres.data_root()))
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in markers) and "tests.cluster down" not in cmdline:
            found.append(f"{entry}: {cmdline[:120]}")
    return found


def status() -> dict:
    return {
        "control_plane": control_plane.status(),
        "provisioner": provisioner_daemon().running(),
        "loopback_endpoints": loopback_endpoints_daemon().running(),
        "job_kubelet": job_kubelet_daemon().running(),
        "postgres": postgres.status(),
        "object_store": object_store.status(),
        "traefik": traefik.daemon().running(),
        "cert_manager": cert_manager.daemon().running(),
        "kubeconfig": str(control_plane.layout().kubeconfig),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "up", "down", "status"])
    parser.add_argument("extra", nargs="?", choices=sorted(build.EXTRAS),
                        help="build: one tool the tests use besides the platform; prints its directory")
    args = parser.parse_args(argv)
    if args.command == "build" and args.extra:
        print(build.ensure(build.EXTRAS[args.extra]))
    elif args.command == "build":
        build.ensure_built()
    elif args.command == "up":
        up()
    elif args.command == "down":
        down()
    else:
        current = status()
        print(json.dumps(current, indent=2))
        return 0 if all(current["control_plane"].values()) else 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
