# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply engine: server-side apply with one field manager, on the official client.

An object is only sent when it differs: each applied object carries a hash of what we
applied (annotation), and the live object must still contain every field we want. So a
re-run over unchanged tenants costs one GET per object and writes nothing. Check mode
sends the same apply with dryRun=All; diffs compare the live object with what the server
returned.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field

from ..request import quantity
from . import workload_problems
from ..crashpoints import reached
from ..errors import DependencyError, SaasError

from urllib.parse import urlencode

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from urllib3 import Timeout
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:  # reported by Kube.connect
    k8s_client = k8s_config = Timeout = None
    Urllib3Error = OSError

FIELD_MANAGER = "odoo-saas-kit"
APPLIED_HASH = "odoo-saas.io/applied-hash"

# kind -> (plural, namespaced). Only the kinds the collection manages; no discovery round trip.
KINDS = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Service"): ("services", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "Pod"): ("pods", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
}
# Read, never written: the nodes' room (a plan's fit) and events (why a wait cannot end).
READ_ONLY_KINDS = {
    ("v1", "Node"): ("nodes", False),
    ("v1", "Event"): ("events", True),
}
MISSING = object()  # apply(): the live object was not read by the caller
NOISE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


class KubeError(SaasError):
    """The API server refused a request; the message says which object and why. `status`: the
    HTTP status of the refusal (None when no request was refused, e.g. a wait that failed)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass
class Change:
    """What happened (or would happen, in check mode) to one object."""

    kind: str
    name: str
    namespace: str | None
    action: str  # created, updated, unchanged, deleted, absent
    before: dict | None = None
    after: dict | None = None
    requests: dict = field(default_factory=dict)

    @property
    def changed(self):
        return self.action in ("created", "updated", "deleted")

    @property
    def ref(self):
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def _path(api_version, kind, namespace=None, name=None):
    try:
        plural, namespaced = KINDS.get((api_version, kind)) or READ_ONLY_KINDS[(api_version, kind)]
    except KeyError:
        raise KubeError(f"{api_version} {kind} is not a kind this collection manages") from None
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced and namespace:
        base += f"/namespaces/{namespace}"
    elif namespaced and name:  # without a name and a namespace: the kind across every namespace
        raise KubeError(f"{kind} {name} needs a namespace")
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


def _folded(obj):
    """Secret stringData folded into data (the server stores data only, so a live Secret never
    shows stringData); the caller's object is left as it is."""
    if obj.get("kind") != "Secret" or not obj.get("stringData"):
        return obj
    folded = {key: value for key, value in obj.items() if key != "stringData"}
    folded["data"] = dict(obj.get("data") or {})
    for key, value in obj["stringData"].items():
        folded["data"][key] = base64.b64encode(value.encode()).decode()
    return folded


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def applied_hash(obj):
    return _digest(_canonical(obj))


def with_hash(obj):
    """The object to apply, in the form we apply and compare (Secret stringData folded into
    data), a copy stamped with the hash of its own content. The copy is decoded from the text
    the hash is taken of: one encoding serves both, and costs less than a deep copy (this runs
    for every desired object of every tenant of a fleet)."""
    text = _canonical(_folded(obj))
    stamped = json.loads(text)
    stamped.setdefault("metadata", {}).setdefault("annotations", {})[APPLIED_HASH] = _digest(text)
    return stamped


def contains(live, wanted):
    """True when every field of `wanted` is in `live` with the same value (quantities compared
    by value, lists element by element)."""
    # Loops rather than all(...) over generators: a fleet's info compares ~40 fields a tenant object.
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return False
        for key, value in wanted.items():
            if key not in live or not contains(live[key], value):
                return False
        return True
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return False
        for item, wanted_item in zip(live, wanted):
            if not contains(item, wanted_item):
                return False
        return True
    if isinstance(wanted, str) and isinstance(live, str):
        return quantity.equal(live, wanted)
    return live == wanted


def clean(obj):
    """The object without server bookkeeping, for diffs and results."""
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    metadata = obj.get("metadata", {})
    for key in NOISE_METADATA:
        metadata.pop(key, None)
    obj.pop("status", None)
    return obj


def up_to_date(live, desired):
    """No request needed: the live object carries our hash and every field we want."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return annotations.get(APPLIED_HASH) == desired["metadata"]["annotations"][APPLIED_HASH] and contains(live, desired)


class Kube:
    """A thin REST layer over the official client's configuration, auth and TLS."""

    def __init__(self, api_client, description="the Kubernetes API server"):
        self.api = api_client
        self.description = description
        self.requests = {}
        self._counting = threading.Lock()
        # Namespaces this run found absent (and has not created): nothing is read inside them.
        # Saves the requests, and the automation may not read in a namespace that has no
        # RoleBinding for it yet, so a read there would be refused rather than answered 404.
        self.absent_namespaces = set()
        self._nodes = MISSING
        # Fleet reads (engines/kube_snapshot.Prefetched): GETs answered from one LIST per kind.
        self.prefetched = None
        self._reading_live = False  # inside a wait that has looked once: what was listed is past

    @classmethod
    def connect(cls, kubeconfig=None, context=None, host=None, api_key=None, validate_certs=True, ca_cert=None,
                client_cert=None, client_key=None):
        if k8s_client is None:
            raise DependencyError("kubernetes", "the Python package `kubernetes` is missing on the controller: pip install kubernetes")
        if host:
            configuration = k8s_client.Configuration()
            configuration.host = host
            configuration.verify_ssl = validate_certs
            configuration.ssl_ca_cert = ca_cert
            configuration.cert_file = client_cert
            configuration.key_file = client_key
            if api_key:
                configuration.api_key = {"authorization": f"Bearer {api_key}"}
            api = k8s_client.ApiClient(configuration)
        else:
            try:
                api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
            except Exception as error:  # the config loader raises several unrelated types
                raise DependencyError("kubeconfig", f"cannot load {kubeconfig or '~/.kube/config'}: {error}") from None
        return cls(api, f"the Kubernetes API server at {api.configuration.host}")

    def close(self):
        self.api.close()

    def _count(self, verb):
        with self._counting:  # a fleet's LISTs are taken from several threads
            self.requests[verb] = self.requests.get(verb, 0) + 1

    def _headers(self, content_type):
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        # Bearer tokens, as the client itself sends them (a kubeconfig's token is kept under
        # "BearerToken", refreshed by its exec/auth-provider hook); client certificates are
        # already in the pool manager's TLS settings.
        for setting in self.api.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"].title()] = setting["value"]
        return headers

    def request(self, method, path, body=None, query=None, content_type="application/json"):
        """One HTTP request through the official client's connection pool (its TLS and auth
        settings); returns the decoded JSON body, or None for 404."""
        verb = {"GET": "get", "PATCH": "apply", "DELETE": "delete", "POST": "create"}.get(method, method.lower())
        self._count(verb)
        url = self.api.configuration.host.rstrip("/") + path
        if query:
            url += "?" + urlencode(query)
        try:
            response = self.api.rest_client.pool_manager.request(
                method, url, body=None if body is None else json.dumps(body), headers=self._headers(content_type),
                timeout=Timeout(connect=10, read=120), retries=False,
            )
        except (Urllib3Error, OSError) as error:
            raise DependencyError(self.description, f"cannot be reached ({error.__class__.__name__}: {error}). "
                                  "Check that the cluster is up and the kubeconfig points at it, then run again: "
                                  "a run that stopped half way is finished by the next one.") from None
        if response.status == 404:
            return None
        if response.status >= 400:
            raise KubeError(self._refusal(method, path, response), response.status)
        return json.loads(response.data or b"null")

    @staticmethod
    def _refusal(method, path, response):
        try:
            message = json.loads(response.data).get("message", response.reason)
        except (TypeError, ValueError, AttributeError):
            message = response.reason
        refusal = f"{method} {path} refused ({response.status}): {message}"
        if response.status == 403:
            refusal += (". These credentials lack that permission: the automation's ServiceAccount may work only in tenant "
                        "namespaces that bind it (RoleBinding odoo-saas-automation, which a tenant run without check mode "
                        "restores) and in what roles/saas_system grants; see docs/hosts-and-platform.md")
        return refusal

    def get(self, api_version, kind, name, namespace=None):
        if namespace in self.absent_namespaces:
            return None
        if self.prefetched is not None and not self._reading_live:
            listed = self.prefetched.lookup(self, api_version, kind, name, namespace)
            if listed is not MISSING:
                return listed
        live = self.request("GET", _path(api_version, kind, namespace, name))
        if kind == "Namespace":
            if live is None:
                self.absent_namespaces.add(name)
            else:
                self.absent_namespaces.discard(name)
        return live

    def list(self, api_version, kind, namespace=None, label_selector=None):
        if namespace in self.absent_namespaces:
            return []
        query = {"labelSelector": label_selector} if label_selector else None
        result = self.request("GET", _path(api_version, kind, namespace), query=query)
        return (result or {}).get("items", [])

    def nodes(self):
        """The cluster's Nodes, read once per connection (their room changes slowly), or once per
        fleet run; None when these credentials may not read them."""
        if self.prefetched is not None:
            return self.prefetched.nodes(self)
        if self._nodes is MISSING:
            self._nodes = self.read_nodes()
        return self._nodes

    def read_nodes(self):
        """The cluster's Nodes now; None when these credentials may not read them."""
        try:
            return self.list("v1", "Node")
        except KubeError as error:
            if error.status != 403:
                raise
            return None

    def apply(self, obj, check_mode=False, live=MISSING):
        """Server-side apply of one object unless it is already up to date. `live`: the object
        as the caller just read it (saves the GET)."""
        desired = with_hash(obj)
        api_version, kind = desired["apiVersion"], desired["kind"]
        name = desired["metadata"]["name"]
        namespace = desired["metadata"].get("namespace")
        if live is MISSING:
            live = self.get(api_version, kind, name, namespace)
        if live is not None and up_to_date(live, desired):
            return Change(kind, name, namespace, "unchanged")  # nothing to diff: no copies of the live object
        if check_mode and namespace in self.absent_namespaces:
            # Its namespace would be created by this run: the server cannot dry-run into it.
            return Change(kind, name, namespace, "created", None, clean(desired))
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        if check_mode:
            query["dryRun"] = "All"
        result = self.request("PATCH", _path(api_version, kind, namespace, name), body=desired, query=query,
                              content_type="application/apply-patch+yaml")
        if self.prefetched is not None and not check_mode:
            self.prefetched.forget(api_version, kind, name, namespace)
        if kind == "Namespace" and not check_mode:
            self.absent_namespaces.discard(name)
        before, after = clean(live), clean(result)
        if live is None:
            return Change(kind, name, namespace, "created", None, after)
        return Change(kind, name, namespace, "updated" if before != after else "unchanged", before, after)

    def apply_all(self, objects, check_mode=False, known=None):
        """Apply each object in order. `known`: live objects the caller just read, by (kind, name)."""
        changes = []
        for obj in objects:
            live = (known or {}).get((obj["kind"], obj["metadata"]["name"]), MISSING)
            changes.append(self.apply(obj, check_mode, live=live))
            reached(f"after-apply:{obj['kind']}/{obj['metadata']['name']}")
        return changes

    def scale_to_zero(self, kind, name, namespace):
        """A Deployment's or StatefulSet's replicas to 0 (its scale subresource)."""
        self.request("PATCH", f"/apis/apps/v1/namespaces/{namespace}/{kind.lower()}s/{name}/scale",
                     body={"spec": {"replicas": 0}}, content_type="application/merge-patch+json")
        if self.prefetched is not None:
            self.prefetched.forget("apps/v1", kind, name, namespace)

    def can(self, verb, resource, namespace, group=""):
        """Whether these credentials may `verb` `resource` in `namespace` (SelfSubjectAccessReview,
        which every authenticated user may ask)."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": namespace}}}
        answer = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        return bool(((answer or {}).get("status") or {}).get("allowed"))

    def delete(self, api_version, kind, name, namespace=None, check_mode=False, live=MISSING, propagation="Foreground"):
        """`live`: the object as the caller just read it (saves the GET)."""
        if live is MISSING:
            live = self.get(api_version, kind, name, namespace)
        if live is None:
            return Change(kind, name, namespace, "absent")
        if not check_mode:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
            self.request("DELETE", _path(api_version, kind, namespace, name), body=body)
            if self.prefetched is not None:
                self.prefetched.forget(api_version, kind, name, namespace)
            reached(f"after-delete:{kind}/{name}")
        return Change(kind, name, namespace, "deleted", clean(live), None)

    def wait(self, what, check, timeout, interval=0.5, progress=None, state=None, explain_timeout=None):
        """Poll check() until truthy; raises KubeError naming what did not happen in time. `state()`
        says what is seen now (in progress messages); `explain_timeout()` adds why, to the timeout."""
        started = time.monotonic()
        next_report = started + 15
        reading_live = self._reading_live
        try:
            while True:
                value = check()
                if value:
                    return value
                self._reading_live = True  # fleet reads: what was listed is past, the next looks ask the server
                now = time.monotonic()
                if now - started > timeout:
                    detail = explain_timeout() if explain_timeout else ""
                    raise KubeError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {detail}" if detail else ""))
                if progress and now >= next_report:
                    seen = state() if state else ""
                    progress(f"waiting for {what} ({now - started:.0f}s so far" + (f"; {seen}" if seen else "") + ")")
                    next_report = now + 15
                time.sleep(interval)
        finally:
            self._reading_live = reading_live

    def wait_gone(self, api_version, kind, name, namespace=None, timeout=300, progress=None):
        self.wait(f"{kind} {name} to be deleted", lambda: self.get(api_version, kind, name, namespace) is None,
                  timeout, progress=progress)

    def _wait_workload(self, what, api_version, kind, name, namespace, finished, timeout, progress):
        """Wait until finished(live object); fails as soon as what it waits for cannot happen."""
        watch = WorkloadWatch(self, what, kind, name, namespace)

        def check():
            obj = self.get(api_version, kind, name, namespace)
            if obj is not None and finished(obj):
                return True
            watch.look(obj)
            return False
        self.wait(what, check, timeout, progress=progress, state=watch.state, explain_timeout=watch.explain_timeout)

    def wait_job_complete(self, namespace, name, timeout=600, progress=None):
        self._wait_workload(f"Job {namespace}/{name} to complete", "batch/v1", "Job", name, namespace,
                            lambda job: ((job.get("status") or {}).get("succeeded") or 0) >= 1, timeout, progress)

    def wait_rollout(self, namespace, kind, name, timeout=600, progress=None):
        def rolled_out(obj):
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            replicas = spec.get("replicas", 1)
            if status.get("observedGeneration", 0) < obj.get("metadata", {}).get("generation", 0):
                return False
            ready = status.get("readyReplicas") or 0
            current = status.get("replicas") or 0
            updated = status.get("updatedReplicas") or 0
            return ready == replicas and current == replicas and (replicas == 0 or updated == replicas)
        self._wait_workload(f"{kind} {namespace}/{name} to be ready", "apps/v1", kind, name, namespace, rolled_out,
                            timeout, progress)


class WorkloadWatch:
    """What one wait sees behind its object: the object's conditions, its pods and their events.
    Raises KubeError with Kubernetes' reason and what to do once a problem is definite
    (thresholds: workload_problems)."""

    def __init__(self, kube, what, kind, name, namespace, clock=time.monotonic):
        self.kube, self.what, self.kind, self.name, self.namespace = kube, what, kind, name, namespace
        self.clock = clock
        self.stuck = workload_problems.Stuck(clock)
        self.pods = []
        self.problems = []
        # Not on the first look: most waits end within a poll or two, and need no pod list.
        self.pods_listed = clock()

    def look(self, obj):
        selector = workload_problems.match_labels_selector(obj)
        if selector and self.clock() - self.pods_listed >= workload_problems.PODS_EVERY_SECONDS:
            self.pods = self.kube.list("v1", "Pod", self.namespace, label_selector=selector)
            self.pods_listed = self.clock()
        self.problems = workload_problems.object_problems(self.kind, obj) + [
            problem for pod in self.pods for problem in workload_problems.pod_problems(pod)]
        lasting = self.stuck.lasting(self.problems)
        if not lasting:
            return
        events, names = self._events(), self._names()
        definite = [p for p in lasting if not (p.reason == "Unschedulable" and workload_problems.scaling_up(events, names))]
        if definite:
            raise KubeError(workload_problems.explain(self.what, definite[0], workload_problems.recent_warnings(events, names)))

    def _names(self):
        return {self.name} | {(pod.get("metadata") or {}).get("name") for pod in self.pods}

    def _events(self):
        try:
            return self.kube.list("v1", "Event", self.namespace)
        except KubeError:  # credentials that may not read events: the reasons above still hold
            return []

    def state(self):
        return "; ".join(problem.summary() for problem in self.problems)

    def explain_timeout(self):
        parts = [f"last seen: {self.state()}"] if self.problems else []
        warnings = workload_problems.recent_warnings(self._events(), self._names())
        if warnings:
            parts.append("recent warnings: " + "; ".join(warnings))
        return "; ".join(parts)
