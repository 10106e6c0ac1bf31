# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Volumes keep the size they were created with when a tenant changes plan.

A claim's size can only grow, and only where its StorageClass expands volumes (MicroK8s'
hostpath-storage does not, and does not enforce sizes either); a StatefulSet's
volumeClaimTemplates cannot change at all. So the objects about to be applied carry the
existing sizes, and the run warns when the plan asks for another one: resizing a volume is an
operator's decision, made by hand where the storage allows it."""

from __future__ import annotations

from ..request import quantity


def _claim_storage(claim):
    return ((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")


def _keep(run, wanted_claim, existing_size, what):
    requests = wanted_claim["spec"]["resources"]["requests"]
    if existing_size is None or quantity.equal(requests["storage"], existing_size):
        return
    run.warn(f"{what} stays at {existing_size} (its plan asks for {requests['storage']}): volumes are not resized "
             "by the tenant module; expand it by hand where the storage class allows it")
    requests["storage"] = existing_size


def keep_existing_sizes(run, objects, namespace):
    """Set the sizes of existing claims and StatefulSet claim templates on `objects`, in place.
    Returns the live objects it read, {(kind, name): object or None}, for the apply to reuse."""
    read = {}
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "PersistentVolumeClaim":
            existing = read[("PersistentVolumeClaim", name)] = run.kube.get("v1", "PersistentVolumeClaim", name, namespace)
            if existing:
                _keep(run, obj, _claim_storage(existing), f"PersistentVolumeClaim {namespace}/{name}")
        elif obj["kind"] == "StatefulSet":
            existing = read[("StatefulSet", name)] = run.kube.get("apps/v1", "StatefulSet", name, namespace)
            if not existing:
                continue
            had = {t["metadata"]["name"]: _claim_storage(t) for t in existing["spec"].get("volumeClaimTemplates") or []}
            for template in obj["spec"].get("volumeClaimTemplates") or []:
                claim = template["metadata"]["name"]
                _keep(run, template, had.get(claim), f"the {claim} volumes of StatefulSet {namespace}/{name}")
    return read
