"""Kubeconfig files for the local control plane's identities."""

from __future__ import annotations

from pathlib import Path

import yaml


def write(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "odoo-saas-local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "odoo-saas-local", "context": {"cluster": "odoo-saas-local", "user": user}}],
        "current-context": "odoo-saas-local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
