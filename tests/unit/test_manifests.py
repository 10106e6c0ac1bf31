"""Unit tests of the tenant manifests (pure functions, no cluster).

Golden files: tests/unit/golden/<case>.yaml hold the whole object list of each case. After an
intended change, rewrite them with `UPDATE_GOLDEN=1 python -m pytest tests/unit/test_manifests.py`
and review the diff like code.
"""

from __future__ import annotations

import base64
import configparser
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.operations import credentials
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils import redact
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.tenant import DatabaseTarget, TenantSecrets
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.quantity import exact as quantity
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plan_fit import check_plan_fits

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
PLANS = yaml.safe_load((REPO / "group_vars" / "all" / "plans.yml").read_text())["odoo_saas_plans"]
PLATFORM = specs.load_platform({"environment": "test", "base_domain": "saas.example.com", "plans": PLANS})

# name, plan, extra domains, suspended
CASES = {
    "small": ("acme", "small", [], False),
    "medium": ("globex", "medium", ["shop.globex.example"], False),
    "large": ("initech", "large", [], False),
    "small-suspended": ("acme", "small", [], True),
}


def secrets_for(name):
    return TenantSecrets(
        db_password=f"db-pw-{name}-Zq8",
        admin_password=f"admin-pw-{name}-Xk3",
        postgres_password=f"pg-pw-{name}-Wm5",
    )


def database_for(spec):
    if spec.db_strategy == "dedicated":
        return DatabaseTarget("dedicated", "postgres", 5432, spec.database, spec.role, spec.namespace)
    return DatabaseTarget("postgres-shared-1", "postgres.postgres-shared-1.svc.cluster.local", 5432,
                          spec.database, spec.role, "postgres-shared-1")


def build(name, plan, domains=(), suspended=False, **params):
    spec = specs.build_spec({"name": name, "plan": plan, "domains": list(domains), **params}, PLATFORM)
    return spec, manifests.tenant_objects(spec, PLATFORM, database_for(spec), secrets_for(name), suspended=suspended)


def build_case(case):
    name, plan, domains, suspended = CASES[case]
    return build(name, plan, domains, suspended)


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that yamllint (and so ansible-lint) accepts: indented sequences,
    literal blocks for multi-line strings, no anchors."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def dump(objects):
    return yaml.dump(objects, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120,
                     explicit_start=True)


def find(objects, kind, name):
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def odoo_conf(objects):
    parser = configparser.RawConfigParser()
    parser.read_string(find(objects, "Secret", "odoo-config")["stringData"]["odoo.conf"])
    return parser["options"]


def pod_templates(objects):
    """(object, pod spec) of every workload."""
    return [(o, o["spec"]["template"]["spec"]) for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def restricted_violations(pod):
    """Pod Security Standards `restricted` (latest), as the admission plugin checks a pod spec."""
    problems = []
    pod_sc = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{flag} is set")
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= allowed_volumes:
            problems.append(f"volume {volume['name']} uses {sorted(kinds - allowed_volumes)}")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runs as uid 0")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccomp Unconfined")
    for sysctl in pod_sc.get("sysctls", []):
        problems.append(f"sysctl {sysctl['name']}")
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        name = container["name"]
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if run_as_non_root is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp!r}")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


# --- golden files -----------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_objects_match_the_golden_file(case):
    objects = build_case(case)[1]
    text = dump(objects)
    assert yaml.safe_load(text) == objects
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(), f"{case}: objects differ from {path.name} (UPDATE_GOLDEN=1 rewrites it; review the diff)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_objects_are_deterministic_and_independent(case):
    first, second = build_case(case)[1], build_case(case)[1]
    assert first == second
    assert dump(first) == dump(second)
    first[0]["metadata"]["labels"]["changed"] = "yes"
    assert "changed" not in build_case(case)[1][0]["metadata"]["labels"]
    assert "&id" not in dump(first), "objects share nested values (YAML aliases)"


def test_apply_order_and_kinds_per_plan():
    expected_common = ["Namespace/tenant-acme", "RoleBinding/odoo-saas-automation", "ResourceQuota/tenant-quota", "LimitRange/tenant-limits",
                       "NetworkPolicy/default-deny", "NetworkPolicy/allow-ingress-from-traefik",
                       "NetworkPolicy/allow-acme-http01-from-traefik", "NetworkPolicy/allow-egress-dns",
                       "NetworkPolicy/allow-egress-database", "NetworkPolicy/allow-odoo-to-itself",
                       "NetworkPolicy/allow-egress-outside"]
    tail = ["Job/odoo-db-init", "Deployment/odoo-web", "Deployment/odoo-cron", "Service/odoo", "Ingress/odoo"]
    middle = ["ServiceAccount/odoo", "Secret/odoo-db", "Secret/odoo-config", "PersistentVolumeClaim/odoo-filestore"]
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in build("acme", "small")[1]]
    assert names == expected_common + middle + tail
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in build("acme", "large")[1]]
    assert names == expected_common + ["NetworkPolicy/allow-database-from-odoo"] + middle + [
        "Secret/postgres", "ConfigMap/postgres-init", "Service/postgres", "StatefulSet/postgres"] + tail


def test_the_automation_binding_grants_only_the_tenant_role_to_the_automation():
    spec, objects = build_case("small")
    binding = objects[1]
    assert binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] == spec.namespace
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "odoo-saas-tenant"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "odoo-saas-automation", "namespace": "saas-system"}]


# --- rules that must never break --------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_carries_the_tenant_labels(case):
    spec, objects = build_case(case)
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["odoo-saas.io/tenant"] == spec.name, obj["metadata"]["name"]
        assert labels["app.kubernetes.io/managed-by"] == "odoo-saas-kit"
        assert labels["app.kubernetes.io/part-of"] == "odoo-saas"
        assert obj["kind"] == "Namespace" or obj["metadata"]["namespace"] == spec.namespace
    for workload, pod in pod_templates(objects):
        template_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert template_labels["odoo-saas.io/tenant"] == spec.name
        assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(template_labels)


def test_namespace_enforces_pod_security_restricted_and_is_selectable_as_a_tenant():
    labels = build("acme", "medium")[1][0]["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
    assert labels["odoo-saas.io/role"] == "tenant"
    assert labels["odoo-saas.io/plan"] == "medium"


@pytest.mark.parametrize("case", sorted(CASES))
def test_odoo_conf_locks_the_tenant_to_its_database(case):
    spec, objects = build_case(case)
    conf = odoo_conf(objects)
    assert conf["list_db"] == "False"
    assert conf["db_name"] == spec.database
    assert conf["dbfilter"] == f"^{spec.database}$"
    assert conf["proxy_mode"] == "True"
    assert conf["max_cron_threads"] == "0"
    assert conf["workers"] == str(spec.plan.workers)
    assert conf["data_dir"] == "/var/lib/odoo"
    assert conf["addons_path"].split(",")[0] == "/mnt/extra-addons"
    assert conf["db_user"] == spec.role and conf["db_password"] == secrets_for(spec.name).db_password
    assert conf["admin_passwd"] == secrets_for(spec.name).admin_password
    assert conf["without_demo"] == "all"
    assert int(conf["limit_memory_soft"]) < int(conf["limit_memory_hard"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_connection_pools_fit_the_roles_connection_limit(case):
    spec, objects = build_case(case)
    per_process = int(odoo_conf(objects)["db_maxconn"])
    processes = spec.plan.workers + 1 if spec.plan.workers else 1
    total = spec.plan.replicas * processes * per_process

    def flag(args):
        return next(int(a.split("=", 1)[1]) for a in args if a.startswith("--db_maxconn="))
    total += flag(find(objects, "Deployment", "odoo-cron")["spec"]["template"]["spec"]["containers"][0]["args"])
    total += flag(find(objects, "Job", "odoo-db-init")["spec"]["template"]["spec"]["containers"][0]["args"])
    assert total <= spec.plan.db_connection_limit
    assert per_process >= 2


def test_demo_data_flags_follow_the_odoo_version():
    objects = build("acme", "small", odoo_version="17.0")[1]
    args = find(objects, "Job", "odoo-db-init")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--without-demo=all" in args
    objects = build("acme", "small", odoo_version="19.0")[1]
    args = find(objects, "Job", "odoo-db-init")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not any("demo" in a for a in args)
    assert "without_demo" not in odoo_conf(objects)
    assert find(objects, "Deployment", "odoo-web")["spec"]["template"]["spec"]["containers"][0]["image"] == "odoo:19.0"


FAKE_PSYCOPG2 = """
import json, os
class OperationalError(Exception):
    pass
class _Cursor:
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def execute(self, query, params=None):
        with open(os.environ["SQL_LOG"], "a") as log:
            log.write(json.dumps([query, params]) + "\\n")
        self._last = query
    def fetchone(self):
        installed = os.environ["BASE_INSTALLED"] == "1"
        return (installed,) if "to_regclass" in self._last else ("installed",)
class _Connection:
    def cursor(self): return _Cursor()
    def close(self): pass
    def __enter__(self): return self
    def __exit__(self, *a): return False
def connect(**params):
    return _Connection()
"""


@pytest.mark.parametrize("installed", [False, True])
def test_init_job_initialises_only_an_uninitialised_database_and_pins_the_urls(tmp_path, installed):
    spec, objects = build("acme", "small")
    job = find(objects, "Job", "odoo-db-init")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["python3", "-c"]
    args = container["args"]
    assert args[:6] == ["odoo", "-c", "/etc/odoo/odoo.conf", "-d", spec.database, "-i"]
    assert {"base", "--stop-after-init", "--no-http"} <= set(args)
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1 and job["spec"]["activeDeadlineSeconds"] > 0
    assert "annotations" not in job["spec"]["template"]["metadata"]  # a Job template is immutable

    # Run the wrapper for real, with psycopg2 and the odoo command faked at their boundary.
    (tmp_path / "psycopg2.py").write_text(FAKE_PSYCOPG2)
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\ndb_name = odoo_acme\ndb_host = db\ndb_port = 5432\ndb_user = u\ndb_password = p\n")
    script = container["command"][2].replace("/etc/odoo/odoo.conf", str(conf))
    marker = tmp_path / "odoo-ran"
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(PYTHONPATH=str(tmp_path), SQL_LOG=str(tmp_path / "sql.log"), BASE_INSTALLED="1" if installed else "0",
               PATH=os.environ["PATH"])
    fake_odoo = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ran')"]
    subprocess.run([sys.executable, "-c", script, *fake_odoo], env=env, check=True, capture_output=True)
    assert marker.exists() is not installed
    statements = [json.loads(line) for line in (tmp_path / "sql.log").read_text().splitlines()]
    pinned = {params[0]: params[1] for query, params in statements if "ir_config_parameter" in query}
    assert pinned == {"web.base.url": f"https://{spec.primary_host}", "web.base.url.freeze": "True",
                      "report.url": "http://odoo:8069"}


@pytest.mark.parametrize("workers, websocket", [(0, 8069), (3, 8072)])
def test_websocket_routing_follows_the_worker_mode(workers, websocket):
    plan = "small" if workers == 0 else "medium"
    assert PLATFORM.plans[plan].workers == workers
    objects = build("acme", plan, ["www.acme.example"])[1]
    ingress = find(objects, "Ingress", "odoo")
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["acme.saas.example.com", "www.acme.example"]
    for rule in ingress["spec"]["rules"]:
        ports = {p["path"]: p["backend"]["service"]["port"]["number"] for p in rule["http"]["paths"]}
        assert ports == {"/websocket": websocket, "/": 8069}
    service_ports = {p["port"] for p in find(objects, "Service", "odoo")["spec"]["ports"]}
    assert service_ports == ({8069, 8072} if workers else {8069})
    container = find(objects, "Deployment", "odoo-web")["spec"]["template"]["spec"]["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == service_ports
    traefik = find(objects, "NetworkPolicy", "allow-ingress-from-traefik")["spec"]["ingress"][0]
    assert {p["port"] for p in traefik["ports"]} == service_ports
    assert traefik["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]


def test_ingress_uses_traefik_and_cert_manager():
    ingress = find(build("globex", "medium", ["shop.globex.example"])[1], "Ingress", "odoo")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "selfsigned",
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.tls": "true",
    }
    assert ingress["spec"]["tls"] == [
        {"hosts": ["globex.saas.example.com"], "secretName": "odoo-tls"},
        {"hosts": ["shop.globex.example"], "secretName": "odoo-tls-shop.globex.example"},
    ]


# Two that share their first 60 characters, one cut right after a dot, one of 253 characters.
LONG_HOSTS = ["a" * 63 + ".b.example", "a" * 63 + ".c.example", "a" * 31 + "." + "b" * 40 + ".example",
              ".".join(["e" * 63] * 3) + "." + "f" * 61]


def test_each_host_gets_its_own_certificate_secret():
    """One TLS entry per host, so a custom domain whose DNS does not point here fails only its
    own ACME order. Names are valid, unique per host, short enough for cert-manager's labels,
    and stable: a host keeps its Secret whatever the tenant's other hosts are. The primary host
    keeps `odoo-tls`, the single certificate's name before, so an upgrade re-issues nothing for
    tenants without custom domains."""
    domains = ["shop.acme.example", *LONG_HOSTS]
    tls = find(build("acme", "small", domains)[1], "Ingress", "odoo")["spec"]["tls"]
    assert [entry["hosts"] for entry in tls] == [["acme.saas.example.com"]] + [[host] for host in domains]
    names = [entry["secretName"] for entry in tls]
    assert names[0] == "odoo-tls" and names[1] == "odoo-tls-shop.acme.example"
    assert len(set(names)) == len(names)
    for name in names:
        assert specs.DNS_SUBDOMAIN.match(name) and len(name) <= 52, name
    alone = find(build("acme", "small", LONG_HOSTS[1:2])[1], "Ingress", "odoo")["spec"]["tls"]
    assert alone[1]["secretName"] == names[3]
    assert names[2].startswith("odoo-tls-aaaa") and names[2] != names[3]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_pod_passes_pod_security_restricted(case):
    for workload, pod in pod_templates(build_case(case)[1]):
        assert restricted_violations(pod) == [], workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False


def test_restricted_checker_catches_violations():
    pod = build("acme", "small")[1]
    pod = find(pod, "Deployment", "odoo-web")["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"] = {"privileged": True}
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    problems = " ".join(restricted_violations(pod))
    for word in ("privileged", "allowPrivilegeEscalation", "drop ALL", "hostPath"):
        assert word in problems


def test_odoo_pods_follow_the_image_conventions():
    spec, objects = build("initech", "large")
    conf_text = find(objects, "Secret", "odoo-config")["stringData"]["odoo.conf"]
    for name in ("odoo-web", "odoo-cron"):
        deployment = find(objects, "Deployment", name)
        template = deployment["spec"]["template"]
        pod = template["spec"]
        assert pod["securityContext"]["fsGroup"] == 101
        assert pod["securityContext"]["runAsUser"] == 100 and pod["securityContext"]["runAsGroup"] == 101
        assert spec.odoo_version == "18.0"
        assert pod["serviceAccountName"] == "odoo"
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        container = pod["containers"][0]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts == {"/var/lib/odoo": "filestore", "/etc/odoo": "config", "/tmp": "tmp"}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"] == "4Gi"
        affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert affinity == [{"labelSelector": {"matchLabels": {"odoo-saas.io/tenant": "initech", "app.kubernetes.io/name": "odoo"}},
                             "topologyKey": "kubernetes.io/hostname"}]
        assert template["metadata"]["annotations"]["odoo-saas.io/config-sha256"] == hashlib.sha256(conf_text.encode()).hexdigest()
    web = find(objects, "Deployment", "odoo-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["command"] == ["odoo"] and web["args"] == ["-c", "/etc/odoo/odoo.conf", "--max-cron-threads=0"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert web[probe]["httpGet"] == {"path": "/web/health", "port": "http"}
    cron = find(objects, "Deployment", "odoo-cron")
    assert cron["spec"]["replicas"] == 1
    args = cron["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--no-http", "--workers=0", "--max-cron-threads=2"} <= set(args)
    assert "ports" not in cron["spec"]["template"]["spec"]["containers"][0]
    assert find(objects, "Deployment", "odoo-web")["spec"]["replicas"] == spec.plan.replicas


def window(probe):
    return probe["periodSeconds"] * probe["failureThreshold"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_liveness_outlasts_a_long_report_and_startup_a_first_boot(case):
    """A worker may serve one request for up to limit_time_real (Odoo kills it after that):
    liveness must not restart the pod sooner. The first boot may install or upgrade modules
    for as long as the init Job may run. Readiness stays the quick, separate check."""
    objects = build_case(case)[1]
    limit_time_real = int(odoo_conf(objects)["limit_time_real"])
    web = find(objects, "Deployment", "odoo-web")["spec"]["template"]["spec"]["containers"][0]
    liveness, startup, readiness = web["livenessProbe"], web["startupProbe"], web["readinessProbe"]
    assert window(liveness) > limit_time_real + liveness["timeoutSeconds"]
    assert window(startup) >= find(objects, "Job", "odoo-db-init")["spec"]["activeDeadlineSeconds"]
    assert window(readiness) <= 60 and readiness != liveness


# The official image's `odoo` user: 101:101 on 16.0 (debian:bullseye) and 17.0 (ubuntu:jammy),
# where _apt holds uid 100; 100:101 on 18.0 and 19.0 (ubuntu:noble, _apt is uid 42).
IMAGE_USER = {"16.0": (101, 101), "17.0": (101, 101), "18.0": (100, 101), "19.0": (100, 101)}


@pytest.mark.parametrize("version", specs.ODOO_VERSIONS)
def test_every_odoo_pod_runs_as_the_images_odoo_user_of_its_version(version):
    uid, gid = IMAGE_USER[version]
    for workload, pod in pod_templates(build("acme", "large", odoo_version=version)[1]):
        if workload["metadata"]["name"] == "postgres":
            continue
        context = pod["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, gid, gid), workload["metadata"]["name"]


def test_a_config_change_rolls_the_pods():
    spec = specs.build_spec({"name": "acme", "plan": "small"}, PLATFORM)
    before = manifests.tenant_objects(spec, PLATFORM, database_for(spec), secrets_for("acme"))
    after = manifests.tenant_objects(spec, PLATFORM, database_for(spec), dataclasses.replace(secrets_for("acme"), db_password="new-pw"))

    def digest(objects):
        return find(objects, "Deployment", "odoo-web")["spec"]["template"]["metadata"]["annotations"]["odoo-saas.io/config-sha256"]
    assert digest(before) != digest(after)


def test_suspension_changes_only_replica_counts():
    for plan in ("small", "large"):
        running = build("acme", plan)[1]
        suspended = build("acme", plan, suspended=True)[1]
        scaled = {(o["kind"], o["metadata"]["name"]) for o in suspended if "replicas" in o.get("spec", {})}
        assert scaled == set(manifests.workload_names(specs.build_spec({"name": "acme", "plan": plan}, PLATFORM)))
        for obj in suspended:
            if "replicas" in obj.get("spec", {}):
                assert obj["spec"]["replicas"] == 0
                obj["spec"]["replicas"] = next(o for o in running if o["metadata"]["name"] == obj["metadata"]["name"]
                                               and o["kind"] == obj["kind"])["spec"]["replicas"]
        assert suspended == running


def test_workload_names():
    small = specs.build_spec({"name": "acme", "plan": "small"}, PLATFORM)
    large = specs.build_spec({"name": "acme", "plan": "large"}, PLATFORM)
    assert manifests.workload_names(small) == [("Deployment", "odoo-web"), ("Deployment", "odoo-cron")]
    assert manifests.workload_names(large) == [("Deployment", "odoo-web"), ("Deployment", "odoo-cron"), ("StatefulSet", "postgres")]


def test_network_policies_deny_by_default_and_open_the_database():
    objects = build("acme", "small")[1]
    deny = find(objects, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = find(objects, "NetworkPolicy", "allow-egress-database")["spec"]
    assert egress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "odoo"}}
    assert egress["egress"] == [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "postgres-shared-1"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }]
    acme = find(objects, "NetworkPolicy", "allow-acme-http01-from-traefik")["spec"]
    assert acme["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert acme["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}],
                                "ports": [{"protocol": "TCP", "port": 8089}]}]
    dns = find(objects, "NetworkPolicy", "allow-egress-dns")["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    self_policy = find(objects, "NetworkPolicy", "allow-odoo-to-itself")["spec"]
    assert self_policy["egress"][0]["ports"] == [{"protocol": "TCP", "port": 8069}]
    assert self_policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8069}]
    large = build("initech", "large")[1]
    to_db = find(large, "NetworkPolicy", "allow-database-from-odoo")["spec"]
    assert to_db["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "postgresql"}}
    assert to_db["ingress"] == [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "odoo"}}}],
                                 "ports": [{"protocol": "TCP", "port": 5432}]}]
    egress = find(large, "NetworkPolicy", "allow-egress-database")["spec"]["egress"][0]["to"][0]
    assert egress["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "tenant-initech"}}


def test_shared_server_policy_admits_tenant_namespaces_on_5432_only():
    policy = manifests.shared_server_policy("postgres-shared-2", PLATFORM)
    assert policy["metadata"]["namespace"] == "postgres-shared-2"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert {"namespaceSelector": {"matchLabels": {"odoo-saas.io/role": "tenant"}}} in rule["from"]
    tenant_ns = build("acme", "small")[1][0]
    assert tenant_ns["metadata"]["labels"]["odoo-saas.io/role"] == "tenant"


def test_dedicated_postgres_follows_the_image_conventions():
    spec, objects = build("initech", "large", suspended=False)
    sts = find(objects, "StatefulSet", "postgres")
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 999
    container = pod["containers"][0]
    assert container["image"] == "postgres:16.10-bookworm"  # an exact build (spec.POSTGRES_IMAGE)
    assert container["args"] == ["postgres", "-c", "max_connections=150", "-c", "shared_buffers=1GB"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "postgres", "key": "postgres-password"}}
    assert env["TENANT_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "postgres", "key": "tenant-password"}}
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    assert env["TENANT_CONNECTION_LIMIT"]["value"] == "100"
    assert container["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    script = find(objects, "ConfigMap", "postgres-init")["data"]["10-tenant.sh"]
    for clause in ("NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE", "CONNECTION LIMIT", 'OWNER :"tenant_role"', "REVOKE CONNECT"):
        assert clause in script
    secrets = secrets_for("initech")
    assert secrets.postgres_password not in script and secrets.db_password not in script
    assert find(objects, "Service", "postgres")["spec"]["ports"][0]["port"] == 5432
    assert find(build("initech", "large", suspended=True)[1], "StatefulSet", "postgres")["spec"]["replicas"] == 0


def test_dedicated_strategy_needs_the_superuser_password():
    spec = specs.build_spec({"name": "initech", "plan": "large"}, PLATFORM)
    with pytest.raises(SpecError, match="secrets.postgres_password"):
        manifests.tenant_objects(spec, PLATFORM, database_for(spec), TenantSecrets("a-pw", "b-pw"))


@pytest.mark.parametrize("bad", ["", "two\nlines", " padded", "tab\there"])
def test_unsafe_passwords_are_refused_without_echoing_them(bad):
    spec = specs.build_spec({"name": "acme", "plan": "small"}, PLATFORM)
    with pytest.raises(SpecError) as refused:
        manifests.tenant_objects(spec, PLATFORM, database_for(spec), TenantSecrets(bad, "admin-pw"))
    assert refused.value.field == "secrets.db_password"
    assert not bad or bad not in str(refused.value)


def test_secrets_are_not_in_repr():
    assert "db-pw" not in repr(secrets_for("acme"))


# --- redaction --------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_redacted_objects_contain_no_secret_value(case):
    spec, objects = build_case(case)
    secrets = secrets_for(spec.name)
    text = dump([redact.redact_object(o) for o in objects])
    for value in (secrets.db_password, secrets.admin_password, secrets.postgres_password):
        assert value not in text
        assert value in dump(objects) or value == secrets.postgres_password  # the originals do hold them
    config = redact.redact_object(find(objects, "Secret", "odoo-config"))
    assert config["stringData"] == {"odoo.conf": redact.REDACTED}


def test_redact_object_keeps_keys_and_leaves_the_input_alone():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data": {"a": "c2VjcmV0"}}'}},
        "data": {"a": "c2VjcmV0"}, "stringData": {"b": "plain"}}
    redacted = redact.redact_object(secret)
    assert redacted["data"] == {"a": redact.REDACTED} and redacted["stringData"] == {"b": redact.REDACTED}
    assert "c2VjcmV0" not in str(redacted)
    assert secret["data"] == {"a": "c2VjcmV0"}
    pod = {"kind": "List", "items": [{"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"env": [
        {"name": "DB_PASSWORD", "value": "x1"}, {"name": "api_key", "value": "x2"}, {"name": "AUTH_TOKEN", "value": "x3"},
        {"name": "MY_SECRET", "value": "x4"}, {"name": "HOST", "value": "db"}, {"name": "PW", "valueFrom": {}},
    ]}]}}}}, {"kind": "Secret", "data": {"k": "v"}}]}
    env = redact.redact_object(pod)["items"][0]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e.get("value") for e in env] == [redact.REDACTED] * 4 + ["db", None]
    assert redact.redact_object(pod)["items"][1]["data"] == {"k": redact.REDACTED}
    config_map = {"kind": "ConfigMap", "data": {"k": "v"}}
    assert redact.redact_object(config_map) == config_map


def test_redact_text():
    text = "user=bob password=hunter2 again hunter2 and hunter2x"
    assert redact.redact_text(text, ["hunter2", "", None, "hunter2x"]) == \
        "user=bob password=******** again ******** and ********"
    assert redact.redact_text("nothing", []) == "nothing"


# --- quota ------------------------------------------------------------------------------

@pytest.mark.parametrize("plan", sorted(PLANS))
def test_the_shipped_plans_fit_their_quota(plan):
    check_plan_fits(PLATFORM.plans[plan], f"plans.{plan}")


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_generated_workloads_fit_the_generated_quota(plan):
    """Counted from the manifests themselves, not from the sizing table they came from."""
    objects = build("acme", plan)[1]
    hard = {k: quantity(v) for k, v in find(objects, "ResourceQuota", "tenant-quota")["spec"]["hard"].items()}
    limits = find(objects, "LimitRange", "tenant-limits")["spec"]["limits"][0]
    used = dict.fromkeys(("requests.cpu", "limits.cpu", "requests.memory", "limits.memory", "pods"), 0)
    for workload, pod in pod_templates(objects):
        count = workload["spec"].get("replicas", 1)
        used["pods"] += count
        for container in pod["containers"]:
            resources = container["resources"]
            for side in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    used[f"{side}.{resource}"] += count * quantity(resources[side][resource])
                    if side == "limits":
                        assert quantity(resources[side][resource]) <= quantity(limits["max"][resource])
    for line, value in used.items():
        assert value <= hard[line], f"{plan}: {line} uses {value}, quota {hard[line]}"
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    claims += [t for o in objects if o["kind"] == "StatefulSet" for t in o["spec"]["volumeClaimTemplates"]]
    assert sum(quantity(c["spec"]["resources"]["requests"]["storage"]) for c in claims) <= hard["requests.storage"]
    assert len(claims) <= hard["persistentvolumeclaims"]


def _refusal(plan, db_strategy=None):
    with pytest.raises(SpecError) as refused:
        check_plan_fits(plan, f"plans.{plan.name}", db_strategy)
    return refused.value


def test_a_plan_that_overflows_its_quota_names_what_does_not_fit():
    refused = _refusal(PLATFORM.plans["small"], "dedicated")
    assert refused.field == "plans.small.quota.cpu"
    assert "requests.cpu" in refused.message and "requests.storage" in refused.message
    medium = PLATFORM.plans["medium"]
    crowded = dataclasses.replace(medium, name="crowded", replicas=4, db_connection_limit=100,
                                  quota=dataclasses.replace(medium.quota, pods=5))
    refused = _refusal(crowded)
    assert "pods needs 6 but the quota allows 5" in refused.message
    assert "requests.memory needs 12Gi but the quota allows 8Gi" in refused.message


def test_a_plan_whose_connections_do_not_fit_names_the_setting():
    large = PLATFORM.plans["large"]
    tight = dataclasses.replace(large, name="tight", db_connection_limit=20)
    assert _refusal(tight).field == "plans.tight.db_connection_limit"
    assert "db_connection_limit 20 is too small" in _refusal(tight).message
    few = dataclasses.replace(large, name="few", postgresql_settings=(("max_connections", "100"),))
    assert _refusal(few).field == "plans.few.postgresql_settings.max_connections"
    assert "max_connections 100" in _refusal(few).message
    check_plan_fits(few, "plans.few", "shared")


# --- contract with the lead's code --------------------------------------------------------

class _StoredSecrets:
    """What the API server returns for the Secrets we write: stringData becomes base64 data."""

    def __init__(self, objects):
        self.secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}

    def get(self, api_version, kind, name, namespace):
        assert (api_version, kind) == ("v1", "Secret")
        secret = self.secrets.get(name)
        if secret is None:
            return None
        data = {k: base64.b64encode(v.encode()).decode() for k, v in secret["stringData"].items()}
        return {"metadata": secret["metadata"], "data": data}


@pytest.mark.parametrize("plan", ["small", "large"])
def test_credentials_read_back_the_passwords_the_secrets_hold(plan):
    """credentials.read_or_generate must find every password where these Secrets put it, or a
    rerun would generate new ones (and e.g. the dedicated superuser's would drift)."""
    spec, objects = build("acme", plan)
    read = credentials.read_or_generate(_StoredSecrets(objects), spec.namespace, spec.db_strategy == "dedicated")
    expected = secrets_for("acme")
    if spec.db_strategy != "dedicated":
        expected = dataclasses.replace(expected, postgres_password=None)
    assert read == expected


def test_tenant_kinds_are_exactly_the_kinds_the_builders_make():
    """What a fleet run lists up front (manifests.TENANT_KINDS): every kind of every strategy and
    of a platform with scheduled backups, and nothing else."""
    with_backups = specs.load_platform({"environment": "test", "base_domain": "saas.example.com", "plans": PLANS,
                                        "backup_image": "localhost:32000/odoo-saas-backup:1",
                                        "backup_target": {"kind": "s3", "endpoint": "https://s3.example.com",
                                                          "bucket": "backups", "access_key": "k", "secret_key": "s"}})
    built = set()
    for plan in ("small", "large"):
        for platform in (PLATFORM, with_backups):
            spec = specs.build_spec({"name": "acme", "plan": plan}, platform)
            objects = manifests.tenant_objects(spec, platform, database_for(spec), secrets_for("acme"))
            built |= {(obj["apiVersion"], obj["kind"]) for obj in objects}
    assert built == set(manifests.TENANT_KINDS)
