"""A stand-in for MicroK8s' hostpath provisioner: binds PVCs of the `microk8s-hostpath`
StorageClass to hostPath PersistentVolumes, each a directory under ROOT (made world-writable,
as MicroK8s makes them), and deletes released volumes with their directories.

kwok runs no containers, so no pod ever writes a volume; tests write into the directories
themselves (an Odoo filestore, say), and the claim/volume life cycle (pending → provisioned →
bound → released → deleted) runs through the real controllers. Runs as its own process:
`python -m tests.cluster.provisioner KUBECONFIG ROOT`.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from .bootstrap import PROVISIONER, STORAGE_CLASS, api_client

SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def volume_for(claim: client.V1PersistentVolumeClaim, node: str | None, root: Path) -> client.V1PersistentVolume:
    meta = claim.metadata
    name = f"pvc-{meta.uid}"
    affinity = None
    if node:
        affinity = client.V1VolumeNodeAffinity(required=client.V1NodeSelector(node_selector_terms=[
            client.V1NodeSelectorTerm(match_expressions=[client.V1NodeSelectorRequirement(
                key="kubernetes.io/hostname", operator="In", values=[node])])
        ]))
    return client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=name, annotations={PROVISIONED_BY: PROVISIONER}),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": claim.spec.resources.requests["storage"]},
            access_modes=claim.spec.access_modes,
            persistent_volume_reclaim_policy="Delete",
            storage_class_name=STORAGE_CLASS,
            volume_mode=claim.spec.volume_mode or "Filesystem",
            host_path=client.V1HostPathVolumeSource(path=str(root / f"{meta.namespace}-{meta.name}-{meta.uid}")),
            claim_ref=client.V1ObjectReference(
                kind="PersistentVolumeClaim", namespace=meta.namespace, name=meta.name, uid=meta.uid,
                api_version="v1", resource_version=meta.resource_version,
            ),
            node_affinity=affinity,
        ),
    )


def reconcile(core: client.CoreV1Api, root: Path) -> None:
    for claim in core.list_persistent_volume_claim_for_all_namespaces().items:
        if claim.status.phase != "Pending" or claim.spec.volume_name:
            continue
        if (claim.spec.storage_class_name or STORAGE_CLASS) != STORAGE_CLASS:
            continue
        node = (claim.metadata.annotations or {}).get(SELECTED_NODE)
        if node is None:
            continue  # WaitForFirstConsumer: the scheduler picks the node first
        volume = volume_for(claim, node, root)
        directory = Path(volume.spec.host_path.path)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        try:
            core.create_persistent_volume(volume)
        except ApiException as error:
            if error.status != 409:
                raise
    for volume in core.list_persistent_volume().items:
        provisioned_by = (volume.metadata.annotations or {}).get(PROVISIONED_BY)
        if provisioned_by == PROVISIONER and volume.status.phase == "Released":
            try:
                core.delete_persistent_volume(volume.metadata.name)
            except ApiException as error:
                if error.status != 404:
                    raise
            if volume.spec.host_path and Path(volume.spec.host_path.path).parent == root:
                shutil.rmtree(volume.spec.host_path.path, ignore_errors=True)


def main(argv: list[str]) -> int:
    kubeconfig, root = Path(argv[0]), Path(argv[1])
    with api_client(kubeconfig) as api:
        core = client.CoreV1Api(api)
        while True:
            try:
                reconcile(core, root)
            except Exception as error:  # noqa: BLE001 - keep serving; the API server may restart
                print(f"provisioner: {error}", file=sys.stderr, flush=True)
            time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
