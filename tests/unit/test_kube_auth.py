"""Credentials reach the API server with every request the apply engine sends (it bypasses the
client's generated API classes, so it must add the client's auth headers itself)."""

from __future__ import annotations

import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.connections import connect_kube
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube


def _kubeconfig(tmp_path, user):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    return str(path)


def test_a_kubeconfig_token_is_sent_as_a_bearer_token(tmp_path):
    # What roles/saas_system exports for the automation's ServiceAccount.
    kube = Kube.connect(kubeconfig=_kubeconfig(tmp_path, {"token": "token-from-kubeconfig"}))
    assert kube._headers("application/json")["Authorization"] == "Bearer token-from-kubeconfig"


def test_a_token_given_as_api_key_is_sent_as_a_bearer_token():
    kube = Kube.connect(host="https://127.0.0.1:1", api_key="token-from-params", validate_certs=False)
    assert kube._headers("application/json")["Authorization"] == "Bearer token-from-params"


def test_client_certificates_add_no_authorization_header(tmp_path):
    # The local platform's admin kubeconfig: the certificate goes in the TLS handshake.
    (tmp_path / "client.crt").write_text("not read until a connection is made")
    (tmp_path / "client.key").write_text("not read until a connection is made")
    user = {"client-certificate": str(tmp_path / "client.crt"), "client-key": str(tmp_path / "client.key")}
    kube = Kube.connect(kubeconfig=_kubeconfig(tmp_path, user))
    assert "Authorization" not in kube._headers("application/json")
    assert kube.api.configuration.cert_file == str(tmp_path / "client.crt")


def test_the_modules_connection_options_reach_the_client(tmp_path):
    # connections.connect_kube is the one reader of the options every module takes.
    kube = connect_kube({"host": "https://127.0.0.1:2", "api_key": "token-from-options", "validate_certs": False})
    assert kube._headers("application/json")["Authorization"] == "Bearer token-from-options"
    assert kube.api.configuration.host == "https://127.0.0.1:2"
    assert kube.api.configuration.verify_ssl is False
    by_context = connect_kube({"kubeconfig": _kubeconfig(tmp_path, {"token": "t"}), "context": "c"})
    assert by_context.api.configuration.host == "https://127.0.0.1:1"
