# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet reads: the tenants' objects of one kind, read with one LIST across every namespace
instead of one GET per tenant and object: for tenant_info over every tenant (a report as of the
moment it reads), and for the tenants module, which lists only once it holds every tenant's
ledger lock (engines/fleet_connections.py), so that what it decides on is what the tenants are.

A Kube whose `prefetched` is set answers its GETs from these LISTs (engines/kube.py), except:
- an object the LIST did not return (missing, or its tenant label removed by hand) is read with
  a GET, so what a fleet run finds is what per-tenant reads find;
- an object the run has written (applied or deleted) is read from the server from then on;
- a wait reads from the server once its first look found the object not ready;
- a LIST older than `max_age` seconds is taken again (the status a long fleet run reads stays
  recent).
Credentials that may not list a kind across namespaces (the automation's ServiceAccount is
bound per tenant namespace) read that kind object by object, as without fleet reads. The LISTs
are taken under a lock, so threads of one run may share them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .kube import KINDS, MISSING, KubeError


def _scope(kind, namespace, name):
    """The namespace an object belongs to (a Namespace: itself)."""
    return name if kind == "Namespace" else namespace


class Prefetched:
    """What one LIST per kind returned, {(api_version, kind): {scope: {(namespace, name): object}}},
    for the objects `label_selector` selects (the tenants' label). `namespaces`: keep only those
    namespaces' objects (a fleet run's tenants); `done(namespace)` drops one's once its run ended,
    so that a long run holds only what its remaining tenants will read."""

    def __init__(self, label_selector, kube=None, max_age=None, clock=time.monotonic, namespaces=None):
        self.label_selector = label_selector
        self.kube = kube  # who lists (its request count); else the Kube that asks
        self.max_age = max_age
        self._clock = clock
        self._namespaces = None if namespaces is None else set(namespaces)
        self._lock = threading.Lock()
        self._listed = {}  # None for a kind these credentials may not list across namespaces
        self._listed_at = {}
        self._nodes = MISSING
        # Objects written during the run: never answered from a LIST again, even one that was
        # under way while the write happened.
        self._written = set()
        self.misses = 0  # reads the LISTs could not answer (read with a GET)

    def _objects(self, kube, api_version, kind):
        key = (api_version, kind)
        with self._lock:
            now = self._clock()
            stale = self.max_age is not None and now - self._listed_at.get(key, now) > self.max_age
            if key not in self._listed or stale:
                self._listed[key] = None  # the old LIST is let go before the new one is read
                self._listed[key] = self._list(self.kube or kube, api_version, kind)
                self._listed_at[key] = now
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
            metadata = item.get("metadata") or {}
            namespace, name = metadata.get("namespace"), metadata.get("name")
            scope = _scope(kind, namespace, name)
            if self._namespaces is not None and scope not in self._namespaces:
                continue
            item.setdefault("apiVersion", api_version)  # a LIST's items leave out what a GET returns
            item.setdefault("kind", kind)
            found.setdefault(scope, {})[(namespace, name)] = item
        return found

    def prefetch(self, kube, kinds, workers=4):
        """LIST these kinds now, several at once: the API server encodes one while this process
        decodes another (they are otherwise listed one by one, as the first tenant asks)."""
        wanted = [tuple(kind) for kind in kinds if tuple(kind) in KINDS]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            listed = list(pool.map(lambda kind: self._list(self.kube or kube, *kind), wanted))
        now = self._clock()
        with self._lock:
            for kind, objects in zip(wanted, listed):
                self._listed[kind], self._listed_at[kind] = objects, now

    def done(self, namespace):
        """The run of the tenant in `namespace` ended: its objects are let go (read with a GET if asked again)."""
        with self._lock:
            if self._namespaces is not None:
                self._namespaces.discard(namespace)
            for objects in self._listed.values():
                if objects:
                    objects.pop(namespace, None)

    def lookup(self, kube, api_version, kind, name, namespace):
        """The object as its kind's LIST returned it, or MISSING when a GET must answer."""
        objects = self._objects(kube, api_version, kind)
        if objects is None:
            return MISSING
        with self._lock:
            found = None if (api_version, kind, namespace, name) in self._written else (
                objects.get(_scope(kind, namespace, name)) or {}).get((namespace, name))
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
                self._nodes = (self.kube or kube).read_nodes()
            return self._nodes
