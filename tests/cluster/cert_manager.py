"""cert-manager's controller in the local platform, so tenant certificates are really issued.

The controller (built from tests/cluster/build/cert-manager) runs out of cluster against the
local API server. Its CRDs are those of the library release it was built from. The issuers
are the ones roles/cert_manager creates everywhere, rendered from the role's own template:
`selfsigned`, and the internal CA (a Certificate the self-signed issuer signs, then a CA
ClusterIssuer over its Secret), which signs the local tenants' certificates. The controller's
options follow the role's chart values (enableCertificateOwnerRef). Let's Encrypt is never
reachable from here, so its issuers are not created and no ACME controller runs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import yaml
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import NotFoundError

from . import bootstrap, build, control_plane, kubeconfig, pki, settings
from .processes import Daemon, wait_until

ROLE = settings.REPO / "roles" / "cert_manager"
READY_TIMEOUT = 90


def _role_defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def namespace() -> str:
    return _role_defaults()["cert_manager_namespace"]


def ca_issuer() -> str:
    """The internal CA's ClusterIssuer (and Secret) name; the local inventory issues tenant certificates with it."""
    return _role_defaults()["cert_manager_ca_issuer"]


def _kubeconfig_path() -> Path:
    return control_plane.layout().root / "cert-manager.kubeconfig"


def _write_kubeconfig() -> Path:
    paths = control_plane.layout()
    # Like kwok's identity: the controller reads and writes Secrets in every tenant namespace.
    cert, key = pki.CertificateAuthority(paths.pki).issue("cert-manager", "cert-manager-controller", "system:masters")
    return kubeconfig.write(_kubeconfig_path(), control_plane.APISERVER_URL, paths.pki / "ca.crt", cert, key,
                            user="cert-manager")


def daemon() -> Daemon:
    owner_ref = bool(_render("values.yml.j2")[0].get("enableCertificateOwnerRef"))
    return Daemon("cert-manager", control_plane.layout().run, [
        str(build.binary("cert-manager")),
        f"--kubeconfig={_kubeconfig_path()}",
        f"--cluster-resource-namespace={namespace()}",
        # As the role's chart values run it in production.
        f"--enable-certificate-owner-ref={str(owner_ref).lower()}",
    ])


def _render(template: str) -> list[dict]:
    defaults = _role_defaults()
    variables = {
        "cert_manager_namespace": defaults["cert_manager_namespace"],
        "cert_manager_ca_issuer": defaults["cert_manager_ca_issuer"],
        "cert_manager_ca_duration": defaults["cert_manager_ca_duration"],
        "cert_manager_ca_common_name": "Odoo SaaS local internal CA",
        "cert_manager_issuers": ["selfsigned", defaults["cert_manager_ca_issuer"]],
        "cert_manager_acme_servers": defaults["cert_manager_acme_servers"],
        "cert_manager_acme_email": "",
    }
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters["to_json"] = json.dumps
    rendered = yaml.safe_load(environment.from_string((ROLE / "templates" / template).read_text()).render(variables))
    return rendered if isinstance(rendered, list) else [rendered]


def objects() -> list[dict]:
    """The role's namespace and issuers, as roles/cert_manager renders them for `local`."""
    return _render("namespace.yml.j2") + _render("issuers.yml.j2")


def crds() -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in build.cert_manager_crd_files()]


def _apply(dyn: dynamic.DynamicClient, obj: dict) -> None:
    resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
                               field_manager=bootstrap.FIELD_MANAGER, force_conflicts=True)


def _ready(resource, name: str, condition: str, **where) -> bool:
    try:
        current = resource.get(name=name, **where).to_dict()
    except NotFoundError:
        return False
    return any(c.get("type") == condition and c.get("status") == "True"
               for c in (current.get("status") or {}).get("conditions") or [])


def start(admin_kubeconfig: Path) -> bool:
    """Apply the CRDs, start the controller, apply the issuers and wait until they are Ready.
    Returns True when it started the controller."""
    with bootstrap.api_client(admin_kubeconfig) as api:
        dyn = dynamic.DynamicClient(api)
        definitions = crds()
        crd_resource = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
        for definition in definitions:
            _apply(dyn, definition)
        for definition in definitions:
            name = definition["metadata"]["name"]
            wait_until(f"CRD {name} Established", lambda n=name: _ready(crd_resource, n, "Established"), 60)
        dyn = dynamic.DynamicClient(api)  # rediscover: the new kinds exist now
        _write_kubeconfig()
        started = daemon().start()
        issuer_objects = objects()
        for obj in issuer_objects:
            _apply(dyn, obj)
        issuers = dyn.resources.get(api_version="cert-manager.io/v1", kind="ClusterIssuer")
        for obj in issuer_objects:
            if obj["kind"] == "ClusterIssuer":
                name = obj["metadata"]["name"]
                wait_until(f"ClusterIssuer {name} Ready (see {daemon().log_file})",
                           lambda n=name: _ready(issuers, n, "Ready"), READY_TIMEOUT)
    return started


def ca_certificate_pem(api: client.ApiClient) -> bytes:
    """The internal CA's certificate, which local tenant certificates chain to."""
    secret = client.CoreV1Api(api).read_namespaced_secret(ca_issuer(), namespace())
    return base64.b64decode(secret.data["tls.crt"])
