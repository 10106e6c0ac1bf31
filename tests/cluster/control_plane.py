"""etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1.

A real control plane: TLS everywhere with client certificates, RBAC, the default admission
plugins (PodSecurity, ResourceQuota, LimitRanger, ...), garbage collection and namespace
finalisation by the controller manager. kwok plays the kubelets of three Nodes, so pods
become Running/Ready, Jobs complete and deleted pods go away, without containers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import build, kubeconfig, pki, pod_network, settings
from .processes import Daemon, https_ok, wait_until
from .progress import step

PORTS = settings.PORTS
APISERVER_URL = f"https://127.0.0.1:{PORTS.apiserver}"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig that playbooks and tests use."""
        return self.root / "kubeconfig"


def layout() -> Layout:
    return Layout(settings.state_dir())


def _certificates(paths: Layout) -> dict[str, tuple[Path, Path]]:
    ca = pki.CertificateAuthority(paths.pki)
    apiserver_names = (
        "127.0.0.1", "localhost", settings.ADVERTISE_ADDRESS, "10.96.0.1", "kubernetes",
        "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
    )
    return {
        "etcd": ca.issue("etcd", "etcd-local", server_names=("127.0.0.1", "localhost")),
        "apiserver-etcd-client": ca.issue("apiserver-etcd-client", "kube-apiserver-etcd-client"),
        "apiserver": ca.issue("apiserver", "kube-apiserver", server_names=apiserver_names, client=False),
        "admin": ca.issue("admin", "odoo-saas-local-admin", "system:masters"),
        "controller-manager": ca.issue("controller-manager", "system:kube-controller-manager"),
        "scheduler": ca.issue("scheduler", "system:kube-scheduler"),
        # kwok acts for every fake Node's kubelet (status, leases, pod status and deletion).
        "kwok": ca.issue("kwok", "kwok-controller", "system:masters"),
    }


def daemons(paths: Layout | None = None) -> list[Daemon]:
    """The control plane's processes, in start order (stop goes in reverse)."""
    paths = paths or layout()
    p = paths.pki
    ca = str(p / "ca.crt")
    run = paths.run
    kube = {name: str(paths.root / f"{name}.kubeconfig") for name in ("controller-manager", "scheduler", "kwok")}
    etcd_url = f"https://127.0.0.1:{PORTS.etcd_client}"
    peer_url = f"https://127.0.0.1:{PORTS.etcd_peer}"
    etcd = Daemon("etcd", run, [
        str(build.binary("etcd")),
        "--name=local", f"--data-dir={paths.etcd_data}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=local={peer_url}",
        f"--cert-file={p / 'etcd.crt'}", f"--key-file={p / 'etcd.key'}",
        f"--trusted-ca-file={ca}", "--client-cert-auth=true",
        f"--peer-cert-file={p / 'etcd.crt'}", f"--peer-key-file={p / 'etcd.key'}",
        f"--peer-trusted-ca-file={ca}", "--peer-client-cert-auth=true",
        "--listen-metrics-urls=http://127.0.0.1:0",
        # A throwaway test cluster: skipping fsync makes it several times faster on slow disks.
        "--unsafe-no-fsync=true", "--log-level=warn",
    ])
    apiserver = Daemon("kube-apiserver", run, [
        str(build.binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}", f"--etcd-cafile={ca}",
        f"--etcd-certfile={p / 'apiserver-etcd-client.crt'}", f"--etcd-keyfile={p / 'apiserver-etcd-client.key'}",
        "--bind-address=127.0.0.1", f"--secure-port={PORTS.apiserver}",
        f"--advertise-address={settings.ADVERTISE_ADDRESS}", "--endpoint-reconciler-type=none",
        f"--service-cluster-ip-range={settings.SERVICE_CIDR}",
        f"--client-ca-file={ca}",
        f"--tls-cert-file={p / 'apiserver.crt'}", f"--tls-private-key-file={p / 'apiserver.key'}",
        "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
        "--anonymous-auth=false", "--allow-privileged=true",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={p / 'sa.pub'}", f"--service-account-signing-key-file={p / 'sa.key'}",
        "--profiling=false", "--v=0",
    ])
    controller_manager = Daemon("kube-controller-manager", run, [
        str(build.binary("kube-controller-manager")),
        f"--kubeconfig={kube['controller-manager']}",
        f"--authentication-kubeconfig={kube['controller-manager']}",
        f"--authorization-kubeconfig={kube['controller-manager']}",
        "--bind-address=127.0.0.1", f"--secure-port={PORTS.controller_manager}",
        f"--cert-dir={run / 'controller-manager-certs'}",
        f"--service-account-private-key-file={p / 'sa.key'}", f"--root-ca-file={ca}",
        f"--cluster-signing-cert-file={ca}", f"--cluster-signing-key-file={p / 'ca.key'}",
        "--use-service-account-credentials=true", "--leader-elect=false",
        f"--service-cluster-ip-range={settings.SERVICE_CIDR}",
        "--controllers=*,-nodeipam,-cloud-node-lifecycle",
        "--concurrent-namespace-syncs=10", "--profiling=false",
        # Upstream's 20 requests/s would make a fleet of a thousand namespaces take half an hour to
        # terminate; a test cluster on loopback can take more. Each namespace's termination lists
        # and deletes every namespaced kind, twice or more: at 200 requests/s a thousand tenants'
        # namespaces took 25 min (benchmark 6, 2026-12-04).
        "--kube-api-qps=1000", "--kube-api-burst=2000",
    ])
    scheduler = Daemon("kube-scheduler", run, [
        str(build.binary("kube-scheduler")),
        f"--kubeconfig={kube['scheduler']}",
        f"--authentication-kubeconfig={kube['scheduler']}",
        f"--authorization-kubeconfig={kube['scheduler']}",
        "--bind-address=127.0.0.1", f"--secure-port={PORTS.scheduler}",
        f"--cert-dir={run / 'scheduler-certs'}", "--leader-elect=false", "--profiling=false",
        "--kube-api-qps=200", "--kube-api-burst=400",
    ])
    kwok_args = [
        str(build.binary("kwok")),
        f"--kubeconfig={kube['kwok']}",
        "--manage-all-nodes=true",
        f"--server-address=127.0.0.1:{PORTS.kwok}",
        "--node-lease-duration-seconds=40",
        # Pods of Nodes without a spec.podCIDR; the platform's own Nodes set theirs (bootstrap).
        f"--cidr={pod_network.UNASSIGNED_NODES_CIDR}",
    ]
    kwok_args += [f"--config={stage}" for stage in build.kwok_stages()]
    kwok = Daemon("kwok", run, kwok_args)
    return [etcd, apiserver, controller_manager, scheduler, kwok]


def _write_kubeconfigs(paths: Layout, certs: dict[str, tuple[Path, Path]]) -> None:
    ca = paths.pki / "ca.crt"
    kubeconfig.write(paths.kubeconfig, APISERVER_URL, ca, *certs["admin"], user="admin")
    for name in ("controller-manager", "scheduler", "kwok"):
        kubeconfig.write(paths.root / f"{name}.kubeconfig", APISERVER_URL, ca, *certs[name], user=name)


def _health(paths: Layout, name: str) -> bool:
    p = paths.pki
    ca = p / "ca.crt"
    if name == "etcd":
        return https_ok(f"https://127.0.0.1:{PORTS.etcd_client}/health", ca, p / "admin.crt", p / "admin.key")
    if name == "kube-apiserver":
        return https_ok(f"{APISERVER_URL}/readyz", ca, p / "admin.crt", p / "admin.key")
    port = {"kube-controller-manager": PORTS.controller_manager, "kube-scheduler": PORTS.scheduler}.get(name)
    if port:
        return https_ok(f"https://127.0.0.1:{port}/healthz", None)
    return https_ok(f"http://127.0.0.1:{PORTS.kwok}/healthz", None)


def start() -> Layout:
    paths = layout()
    for directory in (paths.root, paths.pki, paths.run):
        directory.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o711)  # others may only traverse (the postgres user reaches its data)
    paths.pki.chmod(0o700)
    certs = _certificates(paths)
    pki.service_account_keys(paths.pki)
    _write_kubeconfigs(paths, certs)
    for daemon in daemons(paths):
        started = time.monotonic()
        if daemon.start():
            step("up", f"started {daemon.name}")
        wait_until(f"{daemon.name} to be healthy", lambda d=daemon: _health(paths, d.name), 90, daemon)
        step("up", f"{daemon.name} healthy ({time.monotonic() - started:.1f}s)")
    return paths


def stop() -> None:
    for daemon in reversed(daemons()):
        if daemon.stop():
            step("down", f"stopped {daemon.name}")


def status() -> dict[str, bool]:
    return {daemon.name: daemon.running() for daemon in daemons()}
