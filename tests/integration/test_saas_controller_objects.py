"""The SaaS controller's objects as roles/saas_system renders and applies them (tasks/controller.yml,
run by ansible-playbook in check mode against the local platform, so the real API server dry-runs
each one): all accepted without a warning (unknown fields, Pod Security), the Deployment's pod
admitted by Pod Security `restricted` (a pod dry run in a namespace labelled as the platform's),
the settings Secret carrying the module parameters pointed inside the cluster, and no secret
printed. kwok runs no containers, so the pods themselves never start here."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.cluster import control_plane, object_store

from .conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLATFORM_NAMESPACE = "saas-dev"  # the local inventory's
IMAGE = "localhost:32000/odoo-saas-controller:1"
KINDS = ["Secret", "Service", "NetworkPolicy", "Ingress", "Deployment"]

PLAYBOOK = """
- name: Dry-run the controller's objects
  hosts: saas_controller
  gather_facts: false
  vars:
    saas_system_controller_image: {image}
    # The ledger as the role runs it on a real cluster (the controller reaches its Service).
    saas_system_ledger_enabled: true
  tasks:
    - name: Apply them (check mode)
      ansible.builtin.include_role:
        name: odoo_saas.kit.saas_system
        tasks_from: controller.yml

    - name: Keep what the API server answered
      ansible.builtin.copy:
        content: "{{{{ saas_system_controller_applied | to_json }}}}"
        dest: {applied}
        mode: "0600"
      check_mode: false
      no_log: true

    - name: Enable it without an image
      block:
        - name: Apply them without an image
          ansible.builtin.include_role:
            name: odoo_saas.kit.saas_system
            tasks_from: controller.yml
          vars:
            saas_system_controller_image: ""
      rescue:
        - name: Keep the refusal
          ansible.builtin.copy:
            content: "{{{{ ansible_failed_result.msg }}}}"
            dest: {refusal}
            mode: "0600"
          check_mode: false
"""


def local_secrets():
    state = control_plane.layout().root / "postgres"
    return [(state / f"{name}.password").read_text().strip() for name in ("saas-system", "postgres-shared-1", "postgres-shared-2")] + [
        object_store.secret_key()]


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("controller-objects")
    (tmp_path / "playbook.yml").write_text(PLAYBOOK.format(image=IMAGE, applied=tmp_path / "applied.json", refusal=tmp_path / "refusal.txt"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inventories/local/hosts.yml", "--check", str(tmp_path / "playbook.yml")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    leaked = [secret for secret in local_secrets() if secret in result.stdout + result.stderr]
    assert not leaked, "a password or key of the settings was printed"
    answered = json.loads((tmp_path / "applied.json").read_text())
    objects = {item["result"]["kind"]: item for item in answered["result"]["results"]}
    return objects, (tmp_path / "refusal.txt").read_text()


def test_every_object_is_accepted_by_the_api_server_without_a_warning(applied):
    objects, refusal = applied
    assert sorted(objects) == sorted(KINDS)
    for kind, item in objects.items():
        assert item["changed"], kind  # a dry-run create: nothing of the controller exists locally
        assert not item.get("warnings"), f"{kind}: {item['warnings']}"
        assert item["result"]["metadata"]["namespace"] == PLATFORM_NAMESPACE
    assert "odoo_saas_controller_image" in refusal and "playbooks/controller_image.yml" in refusal
    ingress = objects["Ingress"]["result"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "odoo-saas-ca"  # inventories/local
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["api.127.0.0.1.nip.io"]
    assert ingress["spec"]["tls"] == [{"hosts": ["api.127.0.0.1.nip.io"], "secretName": "odoo-saas-controller-tls"}]
    [rule] = objects["NetworkPolicy"]["result"]["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]


def test_the_settings_point_the_core_inside_the_cluster_with_the_automations_own_token(applied):
    objects, _refusal = applied
    data = {key: base64.b64decode(value).decode() for key, value in objects["Secret"]["result"]["data"].items()}
    settings = json.loads(data["settings.json"])
    inventory = yaml.safe_load((REPO / "group_vars" / "all" / "platform.yml").read_text())["odoo_saas_module_defaults"]
    assert set(settings) == set(inventory), "the settings are not the module parameters the playbooks pass"
    assert settings["platform_namespace"] == PLATFORM_NAMESPACE and settings["environment"] == "local"
    assert (settings["ledger"]["host"], settings["ledger"]["port"]) == (f"ledger.{PLATFORM_NAMESPACE}.svc", 5432)
    assert settings["ledger"]["password"] == local_secrets()[0]
    assert [(s["name"], s["host"], s["port"]) for s in settings["shared_servers"]] == [
        (name, f"postgres.{name}.svc.cluster.local", 5432) for name in ("postgres-shared-1", "postgres-shared-2")]

    pod = objects["Deployment"]["result"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert env["SAAS_CONTROLLER_CONFIG"] == f"{mounts['settings']}/settings.json"
    assert settings["kubeconfig"] == f"{mounts['settings']}/kubeconfig"
    # The automation's own identity (the one every tenant namespace binds), no other token.
    assert pod["serviceAccountName"] == settings["automation_account"] == "odoo-saas-automation"
    assert pod["automountServiceAccountToken"] is False
    kubeconfig = yaml.safe_load(data["kubeconfig"])
    assert kubeconfig["users"][0]["user"] == {"tokenFile": f"{mounts['kube']}/token"}
    assert kubeconfig["clusters"][0]["cluster"]["certificate-authority"] == f"{mounts['kube']}/ca.crt"
    [kube] = [volume for volume in pod["volumes"] if volume["name"] == "kube"]
    assert {"path": "token", "expirationSeconds": 86400} == kube["projected"]["sources"][0]["serviceAccountToken"]
    assert container["readinessProbe"]["httpGet"]["path"] == container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["image"] == IMAGE


def test_the_controllers_pod_passes_pod_security_restricted(applied, core):
    """The pod the Deployment makes, dry-run in a namespace with the platform namespace's Pod
    Security labels and the automation's ServiceAccount (admission refuses a pod whose account
    does not exist)."""
    objects, _refusal = applied
    template = objects["Deployment"]["result"]["spec"]["template"]
    labels = {key: value for key, value in core.read_namespace(PLATFORM_NAMESPACE).metadata.labels.items()
              if key.startswith("pod-security.kubernetes.io/")}
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    namespace = f"test-ctl-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels)))
    try:
        core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
            metadata=client.V1ObjectMeta(name=template["spec"]["serviceAccountName"]), automount_service_account_token=False))
        wait_for(lambda: core.read_namespaced_service_account(template["spec"]["serviceAccountName"], namespace), 30, "the account")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dry-controller", "labels": template["metadata"]["labels"]},
               "spec": template["spec"]}
        try:
            core.create_namespaced_pod(namespace, pod, dry_run="All", field_validation="Strict")
        except ApiException as error:
            pytest.fail(f"the controller's pod is refused: {error.body}")
        # And a pod that runs as root is refused there: the check has teeth.
        root = json.loads(json.dumps(pod))
        root["spec"]["securityContext"]["runAsUser"] = 0
        with pytest.raises(ApiException, match="violates PodSecurity"):
            core.create_namespaced_pod(namespace, root, dry_run="All")
    finally:
        core.delete_namespace(namespace)
