"""The SaaS controller as it runs: `python -m ansible_collections.odoo_saas.kit.controller serve`
in its own process on a loopback port, with its settings file from the same module parameters
the tenant tests use (tenants.params), and a small HTTP client for it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from . import tenants

MODULE = "ansible_collections.odoo_saas.kit.controller"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings(directory: Path, ledger_db, **overrides):
    """The settings file: the tenant tests' module parameters, with the local object store as
    backup target (below a prefix of its own) and the kubelet stand-in's image for the Jobs."""
    path = directory / "controller.json"
    values = tenants.with_backup_target(ledger_db, directory / "backups", f"controller-{directory.name}", **overrides)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return path


def environment(settings_path, **extra):
    env = {**os.environ, "PYTHONPATH": f"{tenants.REPO / 'collections'}:{tenants.REPO}",
           "SAAS_CONTROLLER_CONFIG": str(settings_path), "FLASK_ENV": "development"}
    env.pop("ODOO_SAAS_CRASH_AT", None)
    env.update(extra)
    return env


def cli(settings_path, *args):
    """Run `python -m ...controller <args>`; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", MODULE, *args], env=environment(settings_path), capture_output=True,
                          text=True, timeout=60, check=False)


class Controller:
    """A running controller process (start() waits for /healthz)."""

    def __init__(self, settings_path, log_path, **env):
        self.settings_path, self.log_path, self.env = settings_path, log_path, env
        self.port = free_port()
        self.threads = 8
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=30):
        log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen([sys.executable, "-m", MODULE, "serve", "--port", str(self.port),
                                         "--threads", str(self.threads)],
                                        env=environment(self.settings_path, **self.env), stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the controller exited with {self.process.returncode}: {self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the controller did not answer within {timeout}s: {self.log()}")

    def log(self):
        return Path(self.log_path).read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def wait_operation(self, operation_id, token, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.call("GET", f"/v1/operations/{operation_id}", token).json()
            if body["state"] in ("succeeded", "failed"):
                return body
            time.sleep(0.5)
        raise AssertionError(f"operation {operation_id} did not finish within {timeout}s: {body}")
