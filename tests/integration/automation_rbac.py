"""The automation's identity as roles/saas_system lays it down (templates/rbac.yml.j2, rendered
with the role's own template), installed on the local control plane, and credentials for it:
the local platform itself runs the tenant modules with the admin's kubeconfig."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

import jinja2
import yaml
from kubernetes import dynamic

from tests.cluster import bootstrap, control_plane

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "roles" / "saas_system" / "templates" / "rbac.yml.j2"
FIELD_MANAGER = "odoo-saas-tests"


def render(namespace, automation_name="odoo-saas-automation", tenant_role="odoo-saas-tenant", prefix="tenant-"):
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters["to_json"] = json.dumps
    text = environment.from_string(TEMPLATE.read_text()).render(
        saas_system_namespace=namespace, saas_system_automation_name=automation_name,
        saas_system_tenant_role_name=tenant_role, saas_system_tenant_namespace_prefix=prefix)
    return yaml.safe_load(text)


def install(api, objects):
    dyn = dynamic.DynamicClient(api)
    for obj in objects:
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
                                   field_manager=FIELD_MANAGER, force_conflicts=True)


def uninstall(api, objects):
    dyn = dynamic.DynamicClient(api)
    for obj in reversed(objects):
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        try:
            resource.delete(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
        except dynamic.exceptions.NotFoundError:
            pass


@contextlib.contextmanager
def installed(api, namespace):
    """Module parameters that authenticate as the automation, its RBAC and policy installed for
    the duration."""
    objects = render(namespace)
    install(api, objects)
    try:
        yield connection(namespace)
    finally:
        uninstall(api, objects)


def connection(namespace, automation_name="odoo-saas-automation"):
    """Module parameters that authenticate as the automation (a bound token of its ServiceAccount)."""
    layout = control_plane.layout()
    admin = yaml.safe_load(layout.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    token = bootstrap.service_account_token(layout.kubeconfig, namespace, automation_name, seconds=3600)
    return {"kubeconfig": None, "host": cluster["server"], "api_key": token, "validate_certs": True,
            "ca_cert": cluster["certificate-authority"]}


def kubeconfig(connection_params, inline_ca=False):
    """A kubeconfig for those credentials, as roles/saas_system exports one for the playbooks;
    inline_ca puts the CA's data in it (a credential holds text, not a path on the node)."""
    ca_path = connection_params["ca_cert"]
    authority = ({"certificate-authority-data": base64.b64encode(Path(ca_path).read_bytes()).decode()} if inline_ca
                 else {"certificate-authority": ca_path})
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "automation",
        "clusters": [{"name": "local", "cluster": {"server": connection_params["host"], **authority}}],
        "users": [{"name": "automation", "user": {"token": connection_params["api_key"]}}],
        "contexts": [{"name": "automation", "context": {"cluster": "local", "user": "automation"}}],
    }


def write_kubeconfig(path, connection_params):
    path.write_text(yaml.safe_dump(kubeconfig(connection_params)))
    path.chmod(0o600)
    return path
