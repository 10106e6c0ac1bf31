# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet reads: the tenants' objects of one kind, read with one LIST across every namespace
instead of one GET per tenant and object, for read-only runs over the whole fleet (tenant_info
over every tenant: a report as of the moment it reads). Not for runs that converge tenants: a
LIST shared by the fleet is read before each tenant's ledger lock is taken, and what another run
changed in between would be missed (front/fleet.py).

A Kube whose `prefetched` is set answers its GETs from these LISTs (engines/kube.py), except:
- an object the LIST did not return (missing, or its tenant label removed by hand) is read with
  a GET, so what a fleet run finds is what per-tenant reads find;
- an object the run has written (applied or deleted) is read from the server from then on;
- a wait reads from the server once its first look found the object not ready.
Credentials that may not list a kind across namespaces (the automation's ServiceAccount is
bound per tenant namespace) read that kind object by object, as without fleet reads. The LISTs
are taken under a lock, so threads of one run may share them."""

from __future__ import annotations

import threading

from .kube import KINDS, MISSING, KubeError


class Prefetched:
    """What one LIST per kind returned, {(api_version, kind): {(namespace, name): object}}, for
    the objects `label_selector` selects (the tenants' label)."""

    def __init__(self, label_selector):
        self.label_selector = label_selector
        self._lock = threading.Lock()
        self._listed = {}  # None for a kind these credentials may not list across namespaces
        self._nodes = MISSING
        # Objects written during the run: never answered from a LIST again, even one that was
        # under way while the write happened.
        self._written = set()
        self.misses = 0  # reads the LISTs could not answer (read with a GET)

    def _objects(self, kube, api_version, kind):
        key = (api_version, kind)
        with self._lock:
            if key not in self._listed:
                self._listed[key] = self._list(kube, api_version, kind)
            return self._listed[key]

    def _list(self, kube, api_version, kind):
        if (api_version, kind) not in KINDS:
            return None
        try:
            items = kube.list(api_version, kind, label_selector=self.label_selector)  # every namespace
        except KubeError as error:
            if error.status == 403:
                return None
            raise
        found = {}
        for item in items:
            item.setdefault("apiVersion", api_version)  # a LIST's items leave out what a GET returns
            item.setdefault("kind", kind)
            metadata = item.get("metadata") or {}
            found[(metadata.get("namespace"), metadata.get("name"))] = item
        return found

    def lookup(self, kube, api_version, kind, name, namespace):
        """The object as its kind's LIST returned it, or MISSING when a GET must answer."""
        objects = self._objects(kube, api_version, kind)
        if objects is None:
            return MISSING
        with self._lock:
            found = None if (api_version, kind, namespace, name) in self._written else objects.get((namespace, name))
            if found is None:
                self.misses += 1
                return MISSING
        return found

    def forget(self, api_version, kind, name, namespace):
        """The run wrote this object: what the LIST returned is no longer what is there."""
        with self._lock:
            self._written.add((api_version, kind, namespace, name))

    def nodes(self, kube):
        """The cluster's Nodes, one LIST for the whole fleet; None when these credentials may not read them."""
        with self._lock:
            if self._nodes is MISSING:
                self._nodes = kube.read_nodes()
            return self._nodes
