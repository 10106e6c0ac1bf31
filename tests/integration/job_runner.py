"""A stand-in for the kubelet, for backup and restore Jobs: kwok starts no container, so this
runs a Job's container command here, from the Job as the API server holds it, with the
environment the kubelet would give the container.

What it translates, and nothing else:
- `valueFrom.secretKeyRef` is read from the Secret in the API server, as the kubelet does;
- a volume's mountPath becomes a local directory: a PersistentVolumeClaim its bound hostPath
  volume's directory (tests.cluster.provisioner), an emptyDir a fresh temporary directory; an
  environment value under a mountPath is rewritten to the same place under that directory;
- PGHOST, a shared server's Service (postgres.<server>.svc.cluster.local:5432), becomes that
  server's loopback address and port here (as odoo_database_contract does for Odoo);
- `python3 -m <module>` runs with this interpreter, the collection on its path.
The program itself, its arguments and every other variable are the Job's, unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from tests.cluster import postgres

REPO = Path(__file__).resolve().parents[2]
SHARED_SERVICE = re.compile(r"^postgres\.(?P<server>postgres-shared-[0-9]+)\.svc\.cluster\.local\Z")
TIMEOUT = 300


@dataclass
class JobRun:
    returncode: int
    output: str
    environment: dict

    @property
    def result(self):
        """The program's last line, its JSON result."""
        lines = [line for line in self.output.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None


def _secret_value(core, namespace, ref):
    try:
        secret = core.read_namespaced_secret(ref.name, namespace)
    except client.ApiException as error:
        if error.status == 404 and ref.optional:
            return None
        raise
    if ref.key not in (secret.data or {}):
        if ref.optional:
            return None
        raise AssertionError(f"Secret {namespace}/{ref.name} has no key {ref.key}: the kubelet would not start the pod")
    return base64.b64decode(secret.data[ref.key]).decode()


def _volume_directory(core, namespace, volume, scratch):
    if volume.persistent_volume_claim is not None:
        claim = core.read_namespaced_persistent_volume_claim(volume.persistent_volume_claim.claim_name, namespace)
        return core.read_persistent_volume(claim.spec.volume_name).spec.host_path.path
    if volume.empty_dir is not None:
        path = Path(scratch) / volume.name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)
    raise AssertionError(f"volume {volume.name}: the runner knows claims and emptyDirs only")


def _translate_path(value, mounts):
    for mount_path, local in mounts:
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return local + value[len(mount_path.rstrip("/")):]
    return value


def container_environment(core, namespace, pod_spec, scratch):
    """The container's environment as the kubelet would set it, with the translations above."""
    container = pod_spec.containers[0]
    volumes = {volume.name: volume for volume in pod_spec.volumes or []}
    mounts = sorted(((mount.mount_path, _volume_directory(core, namespace, volumes[mount.name], scratch))
                     for mount in container.volume_mounts or []), key=lambda pair: len(pair[0]), reverse=True)
    environment = {}
    for variable in container.env or []:
        if variable.value_from is not None:
            value = _secret_value(core, namespace, variable.value_from.secret_key_ref)
            if value is None:
                continue
        else:
            value = variable.value or ""
        environment[variable.name] = _translate_path(value, mounts)
    shared = SHARED_SERVICE.match(environment.get("PGHOST", ""))
    if shared:
        server = next(s for s in postgres.SERVERS if s.name == shared["server"])
        environment["PGHOST"], environment["PGPORT"] = "127.0.0.1", str(server.port)
    return container.command + (container.args or []), environment


def run_job(core, batch, namespace, job_name, extra_environment=None, timeout=TIMEOUT):
    """Run the Job's container once, here; returns its exit code and output."""
    job = batch.read_namespaced_job(job_name, namespace)
    with tempfile.TemporaryDirectory(prefix="job-runner-") as scratch:
        command, environment = container_environment(core, namespace, job.spec.template.spec, scratch)
        assert command[:2] == ["python3", "-m"], f"the runner runs python3 -m programs only, not {command}"
        process_environment = {"PATH": os.environ["PATH"], "HOME": scratch, "LANG": "C.UTF-8",
                               "PYTHONPATH": f"{REPO / 'collections'}:{REPO}", **environment,
                               **(extra_environment or {})}
        completed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, timeout=timeout,
                                   env=process_environment, stdin=subprocess.DEVNULL, check=False, cwd=scratch)
    return JobRun(completed.returncode, completed.stdout + completed.stderr, environment)
