"""The SaaS controller on loopback for `make demo`: started in the background against the local
platform (its settings written by playbooks/controller_settings.yml), an admin token made, the
URL, the token and a first `curl` printed. `make down` stops it.

    python -m tests.cluster.demo_controller start|stop
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .progress import step

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".local"
SETTINGS = STATE / "controller.json"
PID = STATE / "controller.pid"
LOG = STATE / "controller.log"
PORT = int(os.environ.get("SAAS_CONTROLLER_PORT", "8480"))
MODULE = "ansible_collections.odoo_saas.kit.controller"


def _environment():
    return {**os.environ, "PYTHONPATH": f"{REPO / 'collections'}:{REPO}", "SAAS_CONTROLLER_CONFIG": str(SETTINGS),
            "FLASK_ENV": "development"}


def _running():
    try:
        pid = int(PID.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _healthy(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def start():
    url = f"http://127.0.0.1:{PORT}"
    if _running() and _healthy(url):
        step("controller", f"already running (pid {_running()})")
    else:
        with open(LOG, "a", encoding="utf-8") as log:
            process = subprocess.Popen([sys.executable, "-m", MODULE, "serve", "--port", str(PORT)], env=_environment(),
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        PID.write_text(str(process.pid))
        deadline = time.monotonic() + 30
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                print(f"the controller did not start; its log: {LOG}\n{LOG.read_text()[-2000:]}", file=sys.stderr)
                return 1
            time.sleep(0.3)
        step("controller", f"started on {url} (pid {process.pid}, log {LOG})")
    made = subprocess.run([sys.executable, "-m", MODULE, "token", "create", "--name", "demo admin", "--scope", "admin"],
                          env=_environment(), capture_output=True, text=True, check=False)
    if made.returncode != 0:
        print(made.stderr, file=sys.stderr)
        return 1
    token = made.stdout.strip().splitlines()[-1]
    print(f"""
The SaaS controller: {url}/  (API document: {url}/openapi.json, dashboard: {url}/dashboard)
An admin token (shown once; `python -m {MODULE} token list|revoke` manage them):
  export SAAS_TOKEN={token}
Create a tenant:
  curl -s -X POST {url}/v1/tenants -H "Authorization: Bearer $SAAS_TOKEN" -H 'Content-Type: application/json' \\
       -H 'Idempotency-Key: signup-acme' -d '{{"name": "acme", "plan": "small"}}'
Follow its operation (the Location it answered), then the tenant:
  curl -s {url}/v1/tenants/acme -H "Authorization: Bearer $SAAS_TOKEN"
`make down` stops it.""")
    return 0


def stop():
    pid = _running()
    if pid:
        os.killpg(pid, signal.SIGTERM)
        step("controller", f"stopped (pid {pid})")
    PID.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit({"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "start"]())
