"""The local platform's cert-manager pieces, without the platform: the issuers it creates come
from roles/cert_manager, the local inventory issues with one of them, and each built
component is the version its Go module pins."""

from __future__ import annotations

import re

import yaml

from tests.cluster import build, cert_manager, settings

LOCAL_INVENTORY = settings.REPO / "inventories" / "local" / "group_vars" / "all" / "environment.yml"


def _kinds(objects):
    return {(obj["kind"], obj["metadata"]["name"]) for obj in objects}


def test_local_issuers_are_the_roles_selfsigned_and_internal_ca_without_acme():
    objects = cert_manager.objects()
    ca = cert_manager.ca_issuer()
    assert _kinds(objects) == {
        ("Namespace", cert_manager.namespace()), ("ClusterIssuer", "selfsigned"),
        ("Certificate", ca), ("ClusterIssuer", ca),
    }
    by_kind = {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}
    assert by_kind[("ClusterIssuer", ca)]["spec"] == {"ca": {"secretName": ca}}
    certificate = by_kind[("Certificate", ca)]
    assert certificate["metadata"]["namespace"] == cert_manager.namespace()
    assert certificate["spec"]["isCA"] is True
    assert certificate["spec"]["issuerRef"]["name"] == "selfsigned"


def test_local_inventory_issues_tenant_certificates_with_the_internal_ca():
    inventory = yaml.safe_load(LOCAL_INVENTORY.read_text())
    assert inventory["odoo_saas_cert_issuer"] == cert_manager.ca_issuer()
    issuers = {obj["metadata"]["name"] for obj in cert_manager.objects() if obj["kind"] == "ClusterIssuer"}
    assert inventory["odoo_saas_cert_issuer"] in issuers


def test_each_component_is_the_version_its_go_module_requires():
    for component in (*build.COMPONENTS, *build.EXTRAS.values()):
        go_mod = (settings.BUILD_MODULES / component.module_dir / "go.mod").read_text()
        required = re.findall(r"^(?:require\s+)?\s*(\S+) (v\S+)$", go_mod, re.MULTILINE)
        assert component.version in {version for _module, version in required}, (component.name, component.version)


def test_the_local_controller_is_the_release_production_installs():
    defaults = yaml.safe_load((settings.REPO / "roles" / "cert_manager" / "defaults" / "main.yml").read_text())
    assert defaults["cert_manager_chart_version"] == build.CERT_MANAGER_VERSION
