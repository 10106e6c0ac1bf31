"""Build the control-plane binaries from Go modules, once per version, into the cache.

Each component has a small Go module under tests/cluster/build/ whose go.mod and go.sum pin
the exact upstream release. Go's own module and build caches make a rebuild after a cache
wipe cheap; the finished binaries are reused across clones as long as the version matches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from . import failure_stages, settings
from .progress import step


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    module_dir: str
    packages: tuple[str, ...]
    ldflags: str = ""

    @property
    def binaries(self) -> tuple[str, ...]:
        """Binary names: the last element of each package path ('.' builds the module's main as its name)."""
        return tuple(self.name if p == "." else p.rsplit("/", 1)[-1] for p in self.packages)

    @property
    def directory(self) -> Path:
        return settings.bin_dir(self.name, self.version)


def _kubernetes_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return " ".join(
        [
            "-s -w",
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.gitCommit=release-{version}",
        ]
    )


# The github.com/cert-manager/cert-manager version build/cert-manager/go.mod requires.
CERT_MANAGER_VERSION = "v1.21.2"

COMPONENTS = (
    Component("etcd", settings.ETCD_VERSION, "etcd", (".",), "-s -w"),
    Component(
        "kubernetes",
        settings.KUBERNETES_VERSION,
        "kubernetes",
        (
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler",
            # Not run by the platform: for people, so the KUBECONFIG `make demo` prints can be used.
            "k8s.io/kubernetes/cmd/kubectl",
        ),
        _kubernetes_ldflags(settings.KUBERNETES_VERSION),
    ),
    Component(
        "kwok",
        settings.KWOK_VERSION,
        "kwok",
        ("sigs.k8s.io/kwok/cmd/kwok",),
        "-s -w",
    ),
    # Our own main over the library module (its cmd/controller module is not on the Go proxy).
    Component("cert-manager", CERT_MANAGER_VERSION, "cert-manager", (".",), "-s -w"),
    Component("seaweedfs", settings.SEAWEEDFS_VERSION, "seaweedfs", ("github.com/seaweedfs/seaweedfs/weed",), "-s -w"),
)


# Not part of the platform: the isolation proof builds it on first use (ensure(NETPOL_ANALYZER)).
# np-guard's modules are not in the checksum database the proxy serves, so go.sum was written
# with GONOSUMDB=github.com/np-guard; builds then check the downloads against go.sum.
NETPOL_ANALYZER = Component(
    "netpol-analyzer", "v1.4.2", "netpol-analyzer", ("github.com/np-guard/netpol-analyzer/cmd/netpolicy",), "-s -w",
)


# Not part of the platform either: the image-build host scenario (extensions/molecule_host/
# image_build) runs it inside its host, where MicroK8s' registry addon would listen.
OCI_REGISTRY = Component(
    "oci-registry", "v0.22.1", "oci-registry", ("github.com/google/go-containerregistry/cmd/registry",), "-s -w",
)
EXTRAS = {component.name: component for component in (NETPOL_ANALYZER, OCI_REGISTRY)}


def binary(name: str) -> Path:
    """Path of a built binary, e.g. binary('kube-apiserver')."""
    for component in COMPONENTS:
        if name in component.binaries:
            return component.directory / name
    raise KeyError(f"no component builds {name!r}")


def is_built(component: Component) -> bool:
    if component.name == "kwok" and not all(p.exists() for p in kwok_stages()):
        return False
    if component.name == "cert-manager" and not cert_manager_crd_files():
        return False
    return all(os.access(component.directory / n, os.X_OK) for n in component.binaries)


def _heartbeat(stop: threading.Event, label: str) -> None:
    while not stop.wait(30):
        step("build", f"still building {label} ...")


def build(component: Component) -> None:
    target = component.directory
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{component.name}-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        if component.packages == (".",):
            output = str(out / component.name)
        else:
            output = str(out) + "/"
        cmd = ["go", "build", "-trimpath", "-ldflags", component.ldflags, "-o", output, *component.packages]
        env = dict(os.environ, GOTOOLCHAIN="local", CGO_ENABLED="0", GOFLAGS="-mod=readonly")
        label = f"{component.name} {component.version}"
        step("build", f"building {label} (go build; the first build takes several minutes)")
        stop = threading.Event()
        ticker = threading.Thread(target=_heartbeat, args=(stop, label), daemon=True)
        ticker.start()
        try:
            result = subprocess.run(
                cmd, cwd=settings.BUILD_MODULES / component.module_dir, env=env,
                capture_output=True, text=True, check=False,
            )
        finally:
            stop.set()
        if result.returncode != 0:
            raise SystemExit(
                f"building {label} failed (exit {result.returncode}):\n{result.stderr[-4000:]}\n"
                "Check that the Go module proxy is reachable and `go version` is 1.25 or newer."
            )
        if component.name == "kwok":
            _copy_kwok_stages(out)
        if component.name == "cert-manager":
            _copy_cert_manager_crds(out)
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    step("build", f"built {label} -> {target}")


KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def kwok_stages() -> list[Path]:
    """kwok's own Stage definitions (pods Ready, Jobs complete, deleted pods removed, nodes
    heartbeating), taken from the kwok module that was built, kept beside the binary; then the
    failure stages tests select pods into (failure_stages)."""
    return [kwok_stage_dir() / Path(stage).name for stage in KWOK_STAGES] + failure_stages.files()


def kwok_stage_dir() -> Path:
    return settings.bin_dir("kwok", settings.KWOK_VERSION) / "stages"


def _module_source(module_dir: str, module: str) -> Path:
    """Where the Go module cache holds the source of a module a build module requires."""
    return Path(subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", module],
        cwd=settings.BUILD_MODULES / module_dir, capture_output=True, text=True, check=True,
        env=dict(os.environ, GOTOOLCHAIN="local"),
    ).stdout.strip())


def cert_manager_crd_files() -> list[Path]:
    """cert-manager's CRDs of the built release (its source's deploy/crds), kept beside the binary."""
    return sorted((settings.bin_dir("cert-manager", CERT_MANAGER_VERSION) / "crds").glob("*.yaml"))


def _copy_cert_manager_crds(target: Path) -> None:
    source = _module_source("cert-manager", "github.com/cert-manager/cert-manager") / "deploy" / "crds"
    (target / "crds").mkdir()
    for crd in sorted(source.glob("*.yaml")):
        shutil.copyfile(crd, target / "crds" / crd.name)


def _copy_kwok_stages(target: Path) -> None:
    module_dir = _module_source("kwok", "sigs.k8s.io/kwok")
    (target / "stages").mkdir()
    for stage in KWOK_STAGES:
        shutil.copyfile(module_dir / stage, target / "stages" / Path(stage).name)


def ensure(component: Component) -> Path:
    """Build one component if it is not cached; returns its directory."""
    if not is_built(component):
        build(component)
    return component.directory


def ensure_built() -> None:
    if shutil.which("go") is None:
        raise SystemExit("Go is not installed: the control plane is built from Go modules (install Go 1.25+).")
    for component in COMPONENTS:
        if is_built(component):
            step("build", f"{component.name} {component.version}: cached in {component.directory}")
        else:
            build(component)
