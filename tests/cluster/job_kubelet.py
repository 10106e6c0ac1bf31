"""A stand-in for the kubelet, for the backup and restore Jobs' pods only: kwok starts no
container, so this runs such a pod's container command here, with the environment the kubelet
would give it, and reports its end in the pod's status as the kubelet does (phase Succeeded or
Failed, the exit code, and the output's tail as the termination message, which is what
terminationMessagePolicy FallbackToLogsOnError gives). The Job controller, the API server and
the module waiting on the Job then see what they would see on a real node.

It takes only pods whose container image is STAND_IN_IMAGE (the local inventory's
odoo_saas_backup_image); a kwok Stage (failure_stages.HELD) keeps those Pending until it has
run them, so kwok's own stages never complete them without running. Other pods are kwok's.

What it translates, and nothing else:
- `valueFrom.secretKeyRef` is read from the Secret in the API server, as the kubelet does;
- a volume's mountPath becomes a local directory: a PersistentVolumeClaim its bound hostPath
  volume's directory (provisioner), an emptyDir a fresh temporary directory; an environment
  value under a mountPath is rewritten to the same place under that directory;
- PGHOST, a shared server's Service (postgres.<server>.svc.cluster.local:5432), becomes that
  server's loopback address and port (as the Odoo database contract tests do); PGHOST
  `postgres`, a dedicated server's Service in the pod's namespace, becomes the loopback server
  a test booted for that namespace from its StatefulSet (registered with register_dedicated);
- `python3 -m <module>` runs with this interpreter, the collection on its path.
The program, its arguments and every other variable are the pod's, unchanged.

    python -m tests.cluster.job_kubelet KUBECONFIG LOG_DIR     (make up runs it as a daemon)
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from kubernetes import client

from . import bootstrap, postgres, settings
from .failure_stages import HELD_IMAGE as STAND_IN_IMAGE
PROGRAM_LABEL = "app.kubernetes.io/name=odoo-saas-backup"
DEDICATED_SERVICE = "postgres"  # the Service of a dedicated server, in the tenant's namespace
SHARED_SERVICE = re.compile(r"^postgres\.(?P<server>postgres-shared-[0-9]+)\.svc\.cluster\.local\Z")
TIMEOUT = 1800
MESSAGE_BYTES = 2048  # the kubelet's limit for a termination message taken from the log


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
        raise LookupError(f"Secret {namespace}/{ref.name} has no key {ref.key}: the kubelet would not start the pod")
    return base64.b64decode(secret.data[ref.key]).decode()


def _volume_directory(core, namespace, volume, scratch):
    if volume.persistent_volume_claim is not None:
        claim = core.read_namespaced_persistent_volume_claim(volume.persistent_volume_claim.claim_name, namespace)
        return core.read_persistent_volume(claim.spec.volume_name).spec.host_path.path
    if volume.empty_dir is not None:
        path = Path(scratch) / volume.name
        path.mkdir(parents=True, exist_ok=True)
        return str(path)
    raise LookupError(f"volume {volume.name}: the stand-in knows claims and emptyDirs only")


def _translate_path(value, mounts):
    for mount_path, local in mounts:
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return local + value[len(mount_path.rstrip("/")):]
    return value


def container_environment(core, namespace, pod_spec, scratch):
    """(command, environment) of the pod's container as the kubelet would start it, translated as above."""
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
    dedicated = _dedicated_file(namespace)
    if environment.get("PGHOST") == DEDICATED_SERVICE and dedicated.exists():
        environment["PGHOST"], environment["PGPORT"] = "127.0.0.1", dedicated.read_text().strip()
    return list(container.command or []) + list(container.args or []), environment


def _dedicated_file(namespace):
    return settings.state_dir() / "dedicated-servers" / namespace


def register_dedicated(namespace, port):
    """A dedicated server booted here for `namespace` (on 127.0.0.1:port): its pods' PGHOST maps to it."""
    path = _dedicated_file(namespace)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{port}\n")


def unregister_dedicated(namespace):
    _dedicated_file(namespace).unlink(missing_ok=True)


def run_container(command, environment, scratch, extra_environment=None, timeout=TIMEOUT):
    """Run a `python3 -m` program as the container would; returns (exit code, output)."""
    if command[:2] != ["python3", "-m"]:
        raise LookupError(f"the stand-in runs `python3 -m` programs only, not {command}")
    process_environment = {"PATH": os.environ["PATH"], "HOME": scratch, "LANG": "C.UTF-8",
                           "PYTHONPATH": f"{settings.REPO / 'collections'}:{settings.REPO}", **environment,
                           **(extra_environment or {})}
    completed = subprocess.run([sys.executable, *command[1:]], capture_output=True, text=True, timeout=timeout,
                               env=process_environment, stdin=subprocess.DEVNULL, check=False, cwd=scratch)
    return completed.returncode, completed.stdout + completed.stderr


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finished_status(pod, returncode, output, started):
    container = pod.spec.containers[0]
    succeeded = returncode == 0
    terminated = {"exitCode": returncode if returncode >= 0 else 128 - returncode,
                  "reason": "Completed" if succeeded else "Error", "startedAt": started, "finishedAt": _now()}
    if not succeeded:
        terminated["message"] = output.encode()[-MESSAGE_BYTES:].decode(errors="replace")
    return {"status": {
        "phase": "Succeeded" if succeeded else "Failed",
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted" if succeeded else "PodFailed"}],
        "containerStatuses": [{"name": container.name, "image": container.image, "imageID": "", "ready": False,
                               "restartCount": 0, "started": False, "state": {"terminated": terminated}}],
    }}


def run_pod(core, pod, log_dir):
    started = _now()
    with tempfile.TemporaryDirectory(prefix="kubelet-stand-in-") as scratch:
        try:
            command, environment = container_environment(core, pod.metadata.namespace, pod.spec, scratch)
            returncode, output = run_container(command, environment, scratch)
        except (LookupError, client.ApiException, subprocess.TimeoutExpired) as error:
            returncode, output = 1, f"the kubelet stand-in could not run the container: {error}"
    log = Path(log_dir) / f"{pod.metadata.namespace}_{pod.metadata.name}.log"
    log.write_text(output)
    log.chmod(0o600)
    core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace,
                                     _finished_status(pod, returncode, output, started))


def _waiting(pod):
    return (pod.status.phase == "Pending" and pod.spec.node_name and pod.metadata.deletion_timestamp is None
            and pod.spec.containers[0].image == STAND_IN_IMAGE)


def serve(kubeconfig, log_dir, interval=0.5):
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    started = set()
    with bootstrap.api_client(kubeconfig) as api:
        core = client.CoreV1Api(api)
        while True:
            try:
                pods = core.list_pod_for_all_namespaces(label_selector=PROGRAM_LABEL).items
            except client.ApiException:
                time.sleep(interval * 4)
                continue
            for pod in pods:
                if pod.metadata.uid not in started and _waiting(pod):
                    started.add(pod.metadata.uid)
                    threading.Thread(target=run_pod, args=(core, pod, log_dir), daemon=True).start()
            time.sleep(interval)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
