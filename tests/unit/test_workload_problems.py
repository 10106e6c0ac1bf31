"""Reasons a wait gives up with, read from pod, Job, Deployment and event objects as the API
server returns them (recorded from kube-scheduler, the Job controller and kubelet output),
and the plan-against-nodes check made before anything is written."""

from __future__ import annotations

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import node_fit
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import workload_problems as wp
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.workload_problems import never_started
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import load_plan

NS = "tenant-acme"


def pod(name="odoo-db-init-x7k2p", phase="Pending", conditions=(), containers=(), deleting=False):
    meta = {"name": name, "namespace": NS, "uid": f"uid-{name}"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T10:00:00Z"
    return {"metadata": meta, "status": {"phase": phase, "conditions": list(conditions), "containerStatuses": list(containers)}}


UNSCHEDULABLE = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "lastTransitionTime": "2026-12-01T10:00:00Z",
                 "message": "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                            "3 No preemption victims found for incoming pod."}


def container(waiting=None, restarts=0, last=None, running=False, image="odoo:18.0"):
    state = {"waiting": waiting} if waiting else ({"running": {"startedAt": "2026-12-01T10:00:00Z"}} if running else {})
    status = {"name": "odoo", "image": image, "ready": False, "restartCount": restarts, "state": state}
    if last:
        status["lastState"] = {"terminated": last}
    return status


def only(problems):
    assert len(problems) == 1, problems
    return problems[0]


def test_an_unschedulable_pod_gives_the_schedulers_message_and_waits_out_a_grace():
    problem = only(wp.pod_problems(pod(conditions=[UNSCHEDULABLE])))
    assert problem.reason == "Unschedulable"
    assert "3 Insufficient cpu" in problem.message
    assert "lower the plan's cpu or add a node" in problem.advice
    assert problem.grace == wp.UNSCHEDULABLE_GRACE_SECONDS > wp.STUCK_GRACE_SECONDS > 0


def test_a_container_running_ready_after_old_crashes_is_no_problem():
    """restartCount only grows: three OOM kills last month must not fail today's wait."""
    old_crashes = container({}, restarts=5, last={"reason": "OOMKilled", "exitCode": 137}, running=True)
    old_crashes["ready"] = True
    assert wp.pod_problems(pod(phase="Running", containers=[old_crashes])) == []
    old_crashes["ready"] = False  # running again but not ready: still the loop
    assert only(wp.pod_problems(pod(phase="Running", containers=[old_crashes]))).reason == "OOMKilled"


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull"])
def test_an_image_that_cannot_be_pulled_names_the_image_and_the_registry(reason):
    waiting = {"reason": reason, "message": 'Back-off pulling image "odoo:18.0-typo"'}
    problem = only(wp.pod_problems(pod(containers=[container(waiting, image="odoo:18.0-typo")])))
    assert problem.reason == reason and "odoo:18.0-typo" in problem.advice and "registry" in problem.advice
    assert problem.grace == wp.STUCK_GRACE_SECONDS
    # Both reasons are one problem while it lasts: the kubelet alternates between them.
    other = "ErrImagePull" if reason == "ImagePullBackOff" else "ImagePullBackOff"
    assert only(wp.pod_problems(pod(containers=[container({"reason": other})]))).key == problem.key


def test_a_rejected_image_reference_fails_at_once():
    problem = only(wp.pod_problems(pod(containers=[container({"reason": "InvalidImageName", "message": "bad"})])))
    assert problem.grace == 0


@pytest.mark.parametrize("waiting", [{"reason": "ContainerCreating"}, {"reason": "PodInitializing"}, None])
def test_transient_states_are_no_problem(waiting):
    assert wp.pod_problems(pod(containers=[container(waiting)])) == []


def test_a_single_restart_is_no_problem_three_are():
    last = {"reason": "Error", "exitCode": 1}
    crashing = {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=odoo"}
    assert wp.pod_problems(pod(phase="Running", containers=[container(crashing, restarts=1, last=last)])) == []
    problem = only(wp.pod_problems(pod(phase="Running", containers=[container(crashing, restarts=wp.CRASH_RESTARTS, last=last)])))
    assert problem.reason == "CrashLoopBackOff"
    assert "exit code 1" in problem.message
    assert f"kubectl logs -n {NS} odoo-db-init-x7k2p -c odoo --previous" in problem.advice
    assert problem.grace == 0


def test_an_oom_kill_says_memory():
    last = {"reason": "OOMKilled", "exitCode": 137}
    problem = only(wp.pod_problems(pod(phase="Running", containers=[
        container({"reason": "CrashLoopBackOff"}, restarts=3, last=last)])))
    assert problem.reason == "OOMKilled"
    assert "raise the plan's memory" in problem.advice


def test_a_pod_being_deleted_or_finished_has_no_problem():
    assert wp.pod_problems(pod(conditions=[UNSCHEDULABLE], deleting=True)) == []
    assert wp.pod_problems(pod(phase="Failed", containers=[container({"reason": "ImagePullBackOff"})])) == []


def test_a_job_past_its_backoff_limit_fails_at_once_with_the_controllers_message():
    job = {"metadata": {"name": "odoo-db-init", "namespace": NS}, "status": {"failed": 4, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]}}
    problem = only(wp.object_problems("Job", job))
    assert (problem.reason, problem.grace) == ("BackoffLimitExceeded", 0)
    assert "backoff limit" in problem.message
    assert f"kubectl logs -n {NS} job/odoo-db-init" in problem.advice
    running = {"metadata": job["metadata"], "status": {"active": 1, "conditions": []}}
    assert wp.object_problems("Job", running) == []


def test_a_deployment_that_cannot_create_pods_or_is_past_its_deadline():
    deployment = {"metadata": {"name": "odoo-web", "namespace": NS}, "status": {"conditions": [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "odoo-web-5d8f-abcde" is forbidden: exceeded quota: tenant-quota'},
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "odoo-web-5d8f" has timed out progressing.'}]}}
    failure, deadline = wp.object_problems("Deployment", deployment)
    assert "exceeded quota" in failure.message and failure.grace == wp.STUCK_GRACE_SECONDS
    assert deadline.reason == "ProgressDeadlineExceeded" and deadline.grace == 0


EVENTS = [
    {"type": "Normal", "reason": "Scheduled", "involvedObject": {"kind": "Pod", "name": "p1"},
     "lastTimestamp": "2026-12-01T10:00:01Z", "message": "assigned"},
    {"type": "Warning", "reason": "FailedScheduling", "involvedObject": {"kind": "Pod", "name": "p1"},
     "lastTimestamp": "2026-12-01T10:00:05Z", "message": "0/3 nodes are available: 3 Insufficient cpu.", "count": 4},
    {"type": "Warning", "reason": "BackOff", "involvedObject": {"kind": "Pod", "name": "other-tenant-pod"},
     "lastTimestamp": "2026-12-01T10:00:06Z", "message": "elsewhere"},
    {"type": "Warning", "reason": "Failed", "involvedObject": {"kind": "Pod", "name": "p1"},
     "eventTime": "2026-12-01T10:00:03.000000Z", "message": "older"},
]


def test_recent_warnings_are_those_of_the_objects_newest_last():
    assert wp.recent_warnings(EVENTS, {"p1"}) == [
        "Pod p1: Failed: older", "Pod p1: FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu. (x4)"]
    assert wp.recent_warnings(EVENTS, {"p1"}, limit=1) == [
        "Pod p1: FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu. (x4)"]


def test_an_autoscaler_adding_a_node_keeps_an_unschedulable_wait_going():
    triggered = {"type": "Normal", "reason": "TriggeredScaleUp", "involvedObject": {"name": "p1"},
                 "lastTimestamp": "2026-12-01T10:00:07Z"}
    given_up = {"type": "Normal", "reason": "NotTriggerScaleUp", "involvedObject": {"name": "p1"},
                "lastTimestamp": "2026-12-01T10:00:09Z"}
    assert not wp.scaling_up(EVENTS, {"p1"})
    assert wp.scaling_up(EVENTS + [triggered], {"p1"})
    assert not wp.scaling_up(EVENTS + [triggered, given_up], {"p1"})


def test_a_problem_counts_once_it_has_lasted_its_grace_and_is_forgotten_when_it_clears():
    now = [0.0]
    stuck = wp.Stuck(clock=lambda: now[0])
    slow = wp.Problem("a", "pod x", "Unschedulable", "", "", grace=20)
    at_once = wp.Problem("b", "Job y", "BackoffLimitExceeded", "", "")
    assert stuck.lasting([slow]) == []
    now[0] = 19.9
    assert stuck.lasting([slow]) == []
    now[0] = 20.0
    assert stuck.lasting([slow]) == [slow]
    assert stuck.lasting([]) == []  # it cleared (the pod was scheduled) ...
    now[0] = 21.0
    assert stuck.lasting([slow]) == []  # ... so a new episode gets the whole grace again
    assert stuck.lasting([at_once]) == [at_once]


def test_the_failure_text_has_what_why_what_to_do_and_the_warnings():
    problem = only(wp.pod_problems(pod(conditions=[UNSCHEDULABLE])))
    text = wp.explain("Job tenant-acme/odoo-db-init to complete", problem, ["Pod p1: FailedScheduling: ..."])
    assert text.startswith("Job tenant-acme/odoo-db-init to complete cannot happen: pod tenant-acme/odoo-db-init-x7k2p: "
                           "Unschedulable (0/3 nodes are available: 3 Insufficient cpu.")
    assert "What to do: lower the plan's cpu or add a node" in text
    assert text.endswith("Recent warnings: Pod p1: FailedScheduling: ...")


def test_never_started_is_pending_with_no_container_that_ran():
    assert never_started(pod(conditions=[UNSCHEDULABLE]))
    assert never_started(pod(containers=[container({"reason": "ImagePullBackOff"})]))
    assert not never_started(pod(phase="Running", containers=[container(running=True)]))
    assert not never_started(pod(containers=[container({"reason": "CrashLoopBackOff"}, restarts=1,
                                                       last={"reason": "Error", "exitCode": 1})]))


def node(name, cpu, memory, **spec):
    return {"metadata": {"name": name}, "spec": spec, "status": {"allocatable": {"cpu": cpu, "memory": memory}}}


NODES = [node("n1", "16", "64Gi"), node("n2", "3800m", "128Gi"), node("n3", "64", "256Gi", unschedulable=True)]


def plan(**overrides):
    raw = {"db_strategy": "shared", "cpu": "2", "memory": "4Gi", "replicas": 1, "workers": 2, "storage": "10Gi", "db_connection_limit": 20,
           "quota": {"cpu": "200", "memory": "1Ti", "pods": 10, "storage": "100Gi"}, **overrides}
    return load_plan("medium", raw, "plans.medium")


def test_a_plan_that_fits_a_node_passes():
    node_fit.check_plan_fits_nodes(plan(), "shared", NODES, "plans.medium")
    # web + cron together: 16 cpu and 64Gi, exactly n1's room.
    node_fit.check_plan_fits_nodes(plan(cpu="8", memory="32Gi"), "shared", NODES, "plans.medium")


def test_web_replicas_and_cron_must_fit_one_node_together():
    """Each pod alone fits n1, but 2 web replicas and the cron pod share one node (the
    ReadWriteOnce filestore): 3 x 6 = 18 cpu > 16."""
    with pytest.raises(SpecError) as caught:
        node_fit.check_plan_fits_nodes(plan(cpu="6", memory="8Gi", replicas=2, db_connection_limit=40), "shared", NODES,
                                       "plans.medium")
    assert caught.value.field == "plans.medium.cpu"
    assert "2 web pod(s) and its cron pod, which share one node" in caught.value.message
    assert "18 cpu and 24Gi memory" in caught.value.message and "or replicas" in caught.value.message


@pytest.mark.parametrize("overrides, field, numbers", [
    ({"cpu": "9"}, "plans.medium.cpu", ("18 cpu", "at most 16 cpu on n1")),
    ({"memory": "100Gi"}, "plans.medium.memory", ("200Gi memory", "128Gi memory on n2")),
    # Each resource fits some node, but no node has both.
    ({"cpu": "4", "memory": "50Gi"}, "plans.medium.memory", ("8 cpu and 100Gi memory",)),
])
def test_a_plan_larger_than_every_node_is_refused_naming_the_field_and_numbers(overrides, field, numbers):
    with pytest.raises(SpecError) as caught:
        node_fit.check_plan_fits_nodes(plan(**overrides), "shared", NODES, "plans.medium")
    assert caught.value.field == field
    for number in numbers:
        assert number in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert "n3" not in caught.value.message  # cordoned: it takes no new pods


def test_a_dedicated_database_too_large_names_db_resources():
    with pytest.raises(SpecError) as caught:
        node_fit.check_plan_fits_nodes(plan(db_resources={"cpu": "32", "memory": "1Gi"}), "dedicated", NODES, "plans.medium")
    assert caught.value.field == "plans.medium.db_resources.cpu"
    node_fit.check_plan_fits_nodes(plan(db_resources={"cpu": "32", "memory": "1Gi"}), "shared", NODES, "plans.medium")


def test_no_node_that_takes_pods_is_refused():
    tainted = node("n4", "16", "64Gi", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    with pytest.raises(SpecError) as caught:
        node_fit.check_plan_fits_nodes(plan(), "shared", [NODES[2], tainted], "plans.medium")
    assert "none of the cluster's 2 nodes takes new pods" in str(caught.value)
