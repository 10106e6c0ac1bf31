"""Runs a backup or restore Job's container here, once, from the Job as the API server holds
it: the same translation the kubelet stand-in of `make up` applies (tests.cluster.job_kubelet,
where every translation is listed), called by a test directly so that it can add a crash point
to the environment or run the same Job again.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass

from tests.cluster.job_kubelet import container_environment, run_container


@dataclass
class JobRun:
    returncode: int
    output: str
    environment: dict

    @property
    def result(self):
        """The program's last JSON line, its result."""
        lines = [line for line in self.output.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None


def run_job(core, batch, namespace, job_name, extra_environment=None):
    """Run the Job's container once, here; returns its exit code and output."""
    job = batch.read_namespaced_job(job_name, namespace)
    with tempfile.TemporaryDirectory(prefix="job-runner-") as scratch:
        command, environment = container_environment(core, namespace, job.spec.template.spec, scratch)
        returncode, output = run_container(command, environment, scratch, extra_environment)
    return JobRun(returncode, output, environment)
