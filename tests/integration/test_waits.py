"""Waits that explain, and end, against the real scheduler, Job and Deployment controllers:
each way a tenant's pods cannot run fails the provision as soon as it is definite, with the
reason Kubernetes gives and what to do (never "timed out"), and the removal of such a
half-provisioned tenant deletes the pods that never started instead of waiting for them.

The failure states come from kwok Stages (tests/cluster/failure_stages.py) selected by the
tenant's image; they need a kwok started after those stages were written."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import ledger
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube, KubeError
from tests.cluster import failure_stages

from . import tenants
from .conftest import gone, restricted_pod_spec

# Far beyond how long each case takes to be definite (STUCK_GRACE_SECONDS, the Job's backoff):
# a failure that says "timed out" is the defect these tests catch.
WAIT_TIMEOUT = 300


@pytest.fixture
def params(ledger_db, tmp_path):
    def build(name, **overrides):
        wanted = {"plan": "small", "wait_timeout": WAIT_TIMEOUT, **overrides}
        return tenants.params(ledger_db, tmp_path / "backups", name=name, **wanted)
    return build


def _provision_fails(params, mode):
    name = tenants.unique(f"w-{mode}")
    result, failure = tenants.tenant(params(name, image=failure_stages.image(mode)))
    assert failure is not None, f"the provision of a tenant whose pods {mode} succeeded: {result}"
    assert "timed out" not in failure, failure
    assert "cannot happen" in failure, failure
    return name, failure


def _remove(params, name, backup=False):
    result, failure = tenants.tenant(params(name, state="absent", confirm=name, backup=backup, wait_timeout=120))
    assert failure is None, failure
    assert result["tenant"]["state"] == "deleted"
    return result


def test_an_image_that_cannot_be_pulled_fails_at_once_and_the_removal_does_not_wait_for_it(core, params, ledger_db):
    name, failure = _provision_fails(params, "image-pull")
    assert "Job tenant-" in failure and "odoo-db-init to complete cannot happen" in failure
    assert "ImagePullBackOff" in failure
    assert f"check the image name ({failure_stages.image('image-pull')}) and the registry" in failure
    assert "Recent warnings: Pod odoo-db-init-" in failure  # the kubelet's (here kwok's) event

    # The old removal waited for the never-started Job pod until its own timeout, before the backup.
    result = _remove(params, name, backup=True)
    assert result["tenant"]["backup"]["location"], "the removal took no backup"
    deleted = [a for a in result["actions"] if a.startswith("deleted the unfinished Job") or "never started" in a]
    assert deleted, result["actions"]
    assert gone(core.read_namespace, f"tenant-{name}")


@pytest.mark.parametrize("mode, reason, advice", [
    ("crash-loop", "CrashLoopBackOff", "the program exits: read the logs: kubectl logs -n tenant-"),
    ("oom", "OOMKilled", "raise the plan's memory"),
])
def test_odoo_that_keeps_exiting_fails_the_rollout_with_the_reason(params, mode, reason, advice):
    name, failure = _provision_fails(params, mode)
    assert "Deployment tenant-" in failure and "to be ready cannot happen" in failure
    assert reason in failure and advice in failure
    _remove(params, name)


def test_an_init_job_past_its_backoff_limit_fails_with_the_controllers_reason(params):
    name, failure = _provision_fails(params, "job-backoff")
    assert "BackoffLimitExceeded" in failure
    assert "kubectl logs -n tenant-" in failure and "job/odoo-db-init" in failure
    _remove(params, name)


def test_a_plan_larger_than_every_node_is_refused_before_anything_is_written(core, ledger_db, tmp_path):
    plans = copy.deepcopy(tenants.raw_plans())
    plans["huge"] = {**plans["small"], "cpu": "64", "quota": {**plans["small"]["quota"], "cpu": "512"}}
    name = tenants.unique("w-huge")
    _result, failure = tenants.tenant(tenants.params(ledger_db, tmp_path, name=name, plan="huge", plans=plans))
    assert failure is not None and failure.startswith("plans.huge.cpu: "), failure
    assert "web pod(s) and its cron pod" in failure and "request 128 cpu" in failure and "at most 16 cpu on kwok-node-" in failure, failure
    assert gone(core.read_namespace, f"tenant-{name}")
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        assert ledger.get_tenant(conn, name) is None


def test_an_unschedulable_pod_fails_the_wait_with_the_schedulers_message(api, namespace):
    """Unschedulable is the scheduler's own verdict: a Job made directly (the tenant module refuses
    such a plan before it gets here), waited for with the tenant module's wait."""
    spec = restricted_pod_spec()
    spec["containers"][0]["resources"] = {"requests": {"cpu": "64", "memory": "16Mi"}, "limits": {"cpu": "64", "memory": "16Mi"}}
    spec["restartPolicy"] = "Never"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "too-big"},
           "spec": {"backoffLimit": 0, "template": {"spec": spec}}}
    client.BatchV1Api(api).create_namespaced_job(namespace, job)
    kube = Kube.connect(kubeconfig=str(tenants.control_plane.layout().kubeconfig))
    try:
        with pytest.raises(KubeError) as failed:
            kube.wait_job_complete(namespace, "too-big", timeout=WAIT_TIMEOUT)
    finally:
        kube.close()
    message = str(failed.value)
    assert "timed out" not in message, message
    assert "Unschedulable (0/3 nodes are available: 3 Insufficient cpu." in message, message
    assert "What to do: lower the plan's cpu or add a node" in message
    assert "FailedScheduling" in message  # the scheduler's Warning event
