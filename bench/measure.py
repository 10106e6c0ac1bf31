"""What the benchmarks measure besides time: the API server's request counters, object writes,
PostgreSQL catalog rewrites, and the machine and versions the figures come from."""

from __future__ import annotations

import json
import os
import platform
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import urllib3

from tests.cluster import control_plane, settings
from tests.integration import tenants

# The resources a tenant's objects are; requests for anything else (pods, ReplicaSets, events,
# leases...) come from controllers, not from either side.
TENANT_RESOURCES = frozenset({
    "namespaces", "resourcequotas", "limitranges", "networkpolicies", "serviceaccounts", "secrets",
    "persistentvolumeclaims", "jobs", "deployments", "services", "ingresses",
})
# API server verb label -> the name used in the tables (the module's own names for get/apply).
VERBS = {"GET": "get", "POST": "create", "APPLY": "apply", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
MUTATING = ("create", "apply", "patch", "update", "delete")
SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')

# Objects whose change counts as a write in a re-run: metadata.generation where the kind has one
# (controllers update their status without touching it), else resourceVersion. ResourceQuotas
# and PVCs are left out: controllers rewrite them (usage, binding annotations).
WATCHED = (
    ("Namespace", "/api/v1/namespaces"),
    ("LimitRange", "/api/v1/limitranges"),
    ("NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies"),
    ("ServiceAccount", "/api/v1/serviceaccounts"),
    ("Secret", "/api/v1/secrets"),
    ("Job", "/apis/batch/v1/jobs"),
    ("Deployment", "/apis/apps/v1/deployments"),
    ("Service", "/api/v1/services"),
    ("Ingress", "/apis/networking.k8s.io/v1/ingresses"),
)


class ApiServer:
    """The local kube-apiserver, read with the admin client certificate (.local/pki)."""

    def __init__(self):
        pki = control_plane.layout().kubeconfig.parent / "pki"
        self.url = f"https://127.0.0.1:{settings.PORTS.apiserver}"
        self.http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(pki / "ca.crt"),
                                        cert_file=str(pki / "admin.crt"), key_file=str(pki / "admin.key"),
                                        timeout=urllib3.Timeout(connect=5, read=60), retries=False, maxsize=16)

    def get(self, path):
        response = self.http.request("GET", self.url + path)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}")
        return response.data

    def counters(self):
        """apiserver_request_total, as {(verb, resource, subresource, code): count}."""
        counts = Counter()
        for line in self.get("/metrics").decode().splitlines():
            match = SAMPLE.match(line)
            if match:
                labels = dict(LABEL.findall(match["labels"]))
                key = (labels.get("verb"), labels.get("resource"), labels.get("subresource"), labels.get("code"))
                counts[key] += float(match["value"])
        return counts

    def version(self):
        return json.loads(self.get("/version"))["gitVersion"]

    def objects(self, namespaces):
        """{(kind, namespace, name): generation or resourceVersion} of the watched kinds."""
        versions = {}
        for kind, path in WATCHED:
            for item in json.loads(self.get(path))["items"]:
                meta = item["metadata"]
                namespace = meta["name"] if kind == "Namespace" else meta.get("namespace")
                if namespace in namespaces:
                    versions[(kind, namespace, meta["name"])] = meta.get("generation") or meta["resourceVersion"]
        return versions

    def free_pods(self):
        """Pods the schedulable nodes can still take (the tenants' pods must fit)."""
        nodes = json.loads(self.get("/api/v1/nodes"))["items"]
        capacity = sum(int(n["status"]["allocatable"]["pods"]) for n in nodes if not n["spec"].get("unschedulable"))
        pods = json.loads(self.get("/api/v1/pods"))["items"]
        used = sum(p["status"].get("phase") not in ("Succeeded", "Failed") for p in pods)
        return capacity - used


class Window:
    """API requests between start() and stop(), by verb (tenant resources and discovery only)."""

    def __init__(self, api):
        self.api = api
        self.before = None

    def start(self):
        self.before = self.api.counters()

    def stop(self):
        after = self.api.counters()
        if any(after[key] < count for key, count in self.before.items()):
            return None  # the API server restarted in between: its counters started again
        by_verb = Counter()
        for (verb, resource, subresource, _code), count in after.items():
            delta = int(count - self.before.get((verb, resource, subresource, _code), 0))
            if not delta:
                continue
            if resource in TENANT_RESOURCES and not subresource and verb in VERBS:
                by_verb[VERBS[verb]] += delta
            elif not resource and subresource in ("api", "apis"):
                by_verb["discovery"] += delta
        return by_verb


class CountingProxy:
    """A plain-HTTP proxy on 127.0.0.1 in front of the API server (which it reaches with the admin
    certificate) that counts every request passing through, by verb. Pointing one side's
    kubeconfig at it counts exactly that side's requests, whatever else talks to the API server.
    No watch: neither side uses one."""

    def __init__(self, api):
        self.counts = Counter()
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body in two writes wait for a delayed ACK (40 ms)

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                verb = request_verb(self.command, self.path, self.headers.get("Content-Type", ""))
                with lock:
                    proxy.counts[verb] += 1
                if verb == "watch":
                    response = None
                    status, data, content_type = 501, b'{"message": "the benchmark proxy does not proxy watches"}', "application/json"
                else:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "user-agent")}
                    response = api.http.request(self.command, api.url + self.path, body=body, headers=headers)
                    status, data, content_type = response.status, response.data, response.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward  # noqa: N815 - http.server's names

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, directory):
        """A kubeconfig that reaches the API server through this proxy."""
        path = Path(directory) / "proxy-kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": self.url}}],
            "users": [{"name": "bench", "user": {}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
        }))
        return str(path)

    def snapshot(self):
        return Counter(self.counts)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def request_verb(method, path, content_type=""):
    """The verb of one API request, named as in the tables."""
    parts = urlsplit(path)
    segments = [s for s in parts.path.split("/") if s]
    core = segments[:1] == ["api"]
    resource = segments[2 if core else 3:]  # after /api/v1 or /apis/<group>/<version>
    if not resource or segments[0] not in ("api", "apis"):
        return "discovery"  # /api, /apis, /apis/<group>/<version>, /version, /openapi...
    if resource[0] == "namespaces" and len(resource) > 2:
        resource = resource[2:]  # namespaced: /namespaces/<ns>/<plural>[/<name>]
    named = len(resource) > 1
    if method == "GET":
        if "true" in parse_qs(parts.query).get("watch", []):
            return "watch"
        return "get" if named else "list"
    if method == "PATCH":
        return "apply" if "apply-patch" in content_type else "patch"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())


def changed_objects(before, after):
    """Objects whose generation/resourceVersion changed, appeared or disappeared."""
    return sum(before.get(key) != after.get(key) for key in set(before) | set(after))


CATALOG = ("SELECT 'role ' || rolname, xmin::text FROM pg_authid WHERE rolname = ANY(%s) "
           "UNION ALL SELECT 'database ' || datname, xmin::text FROM pg_database WHERE datname = ANY(%s)")


def catalog_rows(databases):
    """{row: xmin} of the tenants' roles and databases on the shared server: a row rewritten by
    any DDL (ALTER, GRANT, REVOKE, even one that changes nothing) gets a new xmin."""
    with tenants.connect(tenants.SHARED_1) as conn:
        return dict(conn.execute(CATALOG, (databases, databases)).fetchall())


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return {
        "cpus": os.cpu_count(),
        "cpu model": model[1].strip() if model else "unknown",
        "memory": f"{int(memory[1]) / 2**20:.1f} GiB" if memory else "unknown",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _collection_version(name):
    import ansible_collections  # noqa: PLC0415 - the namespace package spans several paths
    for root in ansible_collections.__path__:
        manifest = Path(root, *name.split("."), "MANIFEST.json")
        if manifest.exists():
            return json.loads(manifest.read_text())["collection_info"]["version"]
    return "not found"


def versions(api):
    found = {"Kubernetes (kube-apiserver)": api.version()}
    for server in (tenants.LEDGER, tenants.SHARED_1):
        with tenants.connect(server) as conn:
            found[f"PostgreSQL ({server.name})"] = conn.execute("SHOW server_version").fetchone()[0]
    found["ansible-core"] = metadata.version("ansible-core")
    found["kubernetes.core"] = _collection_version("kubernetes.core")
    found["community.postgresql"] = _collection_version("community.postgresql")
    found["kubernetes (Python client)"] = metadata.version("kubernetes")
    found["psycopg"] = metadata.version("psycopg")
    return found
