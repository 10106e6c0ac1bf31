# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a Job or a Deployment cannot finish: the reasons Kubernetes gives, read from the
object, its pods and their events, and what the operator can do about each.

A wait gives up on a problem once it is definite:
- at once: the Job's Failed condition (backoffLimit reached), a Deployment past its
  progressDeadlineSeconds, an image reference the runtime rejects (InvalidImageName);
- after CRASH_RESTARTS restarts of one container (CrashLoopBackOff, OOMKilled): one restart
  can be a blip, three in a row are the program itself;
- once it lasts UNSCHEDULABLE_GRACE_SECONDS: Unschedulable (a finishing pod or the cluster
  autoscaler may free or add room; an autoscaler that reports TriggeredScaleUp keeps the wait
  going);
- once it lasts STUCK_GRACE_SECONDS: ErrImagePull/ImagePullBackOff (a registry blip clears at the next pull), a container the
  runtime cannot create (a Secret it refers to may be arriving), a ReplicaSet that cannot
  create pods (a quota freed by a terminating pod).
ContainerCreating, PodInitializing and the like are never problems.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

STUCK_GRACE_SECONDS = 20
# The cluster autoscaler scans about every 10 s and may take a few scans to report
# TriggeredScaleUp, so a pod that finds no room gets longer before the wait gives up.
UNSCHEDULABLE_GRACE_SECONDS = 60
CRASH_RESTARTS = 3
PODS_EVERY_SECONDS = 2.0  # pods are listed at most this often while a wait lasts
WARNINGS_SHOWN = 3

IMAGE_PULL = ("ErrImagePull", "ImagePullBackOff")
IMAGE_REJECTED = ("InvalidImageName", "ErrImageNeverPull")
CANNOT_CREATE = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")


@dataclass(frozen=True)
class Problem:
    key: str  # the same for as long as this trouble lasts on this object
    subject: str
    reason: str
    message: str
    advice: str
    grace: float = 0

    def summary(self):
        return f"{self.subject}: {self.reason}" + (f" ({self.message})" if self.message else "")


def _ref(obj):
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _unschedulable_advice(message):
    if "Insufficient cpu" in message and "Insufficient memory" in message:
        return "lower the plan's cpu and memory or add a node (kubectl describe nodes shows what is requested)"
    if "Insufficient cpu" in message:
        return "lower the plan's cpu or add a node (kubectl describe nodes shows what is requested)"
    if "Insufficient memory" in message:
        return "lower the plan's memory or add a node (kubectl describe nodes shows what is requested)"
    if "PersistentVolumeClaim" in message:
        return "check the storage class and its provisioner (kubectl describe pvc)"
    return "check the nodes' taints and readiness and free room on one (kubectl describe nodes)"


def _container_problems(pod, status, init):
    meta = pod.get("metadata") or {}
    namespace, pod_name, uid = meta.get("namespace"), meta.get("name"), meta.get("uid") or meta.get("name")
    container = status.get("name")
    subject = f"pod {namespace}/{pod_name} ({'init ' if init else ''}container {container})"
    key = f"{uid}:{container}"
    logs = f"read the logs: kubectl logs -n {namespace} {pod_name} -c {container} --previous"
    waiting = (status.get("state") or {}).get("waiting") or {}
    reason, message = waiting.get("reason") or "", waiting.get("message") or ""
    if reason in IMAGE_REJECTED:
        return [Problem(f"{key}:image", subject, reason, message,
                        f"check the image name ({status.get('image')}) in the tenant's image setting")]
    if reason in IMAGE_PULL:
        return [Problem(f"{key}:image", subject, reason, message,
                        f"check the image name ({status.get('image')}) and the registry: does the tag exist, "
                        "can the nodes reach the registry, does it need an imagePullSecret",
                        STUCK_GRACE_SECONDS)]
    if reason in CANNOT_CREATE:
        return [Problem(f"{key}:create", subject, reason, message,
                        f"a Secret, ConfigMap or key the pod refers to is missing, or the runtime refused the "
                        f"container: kubectl describe pod -n {namespace} {pod_name}", STUCK_GRACE_SECONDS)]
    restarts = status.get("restartCount") or 0
    if restarts < CRASH_RESTARTS:
        return []
    if (status.get("state") or {}).get("running") and status.get("ready"):
        return []  # crashes long past: restartCount only ever grows
    last = (status.get("lastState") or {}).get("terminated") or {}
    if last.get("reason") == "OOMKilled":
        return [Problem(f"{key}:crash", subject, "OOMKilled",
                        f"killed for using more memory than its limit, {restarts} restarts",
                        "raise the plan's memory, or lower its workers (Odoo's limit_memory_* follow the plan); "
                        f"{logs}")]
    if reason == "CrashLoopBackOff" or last:
        exit_code = last.get("exitCode")
        detail = f"exit code {exit_code}, {restarts} restarts" if exit_code is not None else f"{restarts} restarts"
        if last.get("reason") and last.get("reason") != "Error":
            detail = f"{last['reason']}, {detail}"
        return [Problem(f"{key}:crash", subject, reason or "restarting", detail, f"the program exits: {logs}")]
    return []


def never_started(pod):
    """A pod none of whose containers has run: unscheduled, pulling its image, or unable to."""
    status = pod.get("status") or {}
    return status.get("phase") == "Pending" and not any(
        (container.get("state") or {}).get("running") or (container.get("state") or {}).get("terminated")
        or (container.get("lastState") or {}).get("terminated")
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []))


def pod_problems(pod):
    """What keeps one pod from running, as far as its status says."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
        return []
    problems = []
    for condition in status.get("conditions") or []:
        if (condition.get("type"), condition.get("status"), condition.get("reason")) == ("PodScheduled", "False", "Unschedulable"):
            message = condition.get("message") or ""
            problems.append(Problem(f"{meta.get('uid') or meta.get('name')}:unschedulable", f"pod {_ref(pod)}",
                                    "Unschedulable", message, _unschedulable_advice(message),
                                    UNSCHEDULABLE_GRACE_SECONDS))
    for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
        for container in status.get(key) or []:
            problems += _container_problems(pod, container, init)
    return problems


def _true(obj, kind):
    return next((c for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind and c.get("status") == "True"), None)


def object_problems(kind, obj):
    """What the Job's or the Deployment's own status says cannot happen."""
    if not obj:
        return []
    namespace, name = (obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name")
    subject = f"{kind} {namespace}/{name}"
    if kind == "Job":
        failed = _true(obj, "Failed") or _true(obj, "FailureTarget")
        if failed:
            return [Problem(f"{subject}:failed", subject, failed.get("reason") or "Failed", failed.get("message") or "",
                            f"read its pod's log (kubectl logs -n {namespace} job/{name}), fix the cause, delete "
                            f"the Job (kubectl delete job -n {namespace} {name}) and run again")]
        return []
    problems = []
    replica_failure = _true(obj, "ReplicaFailure")
    if replica_failure:
        problems.append(Problem(f"{subject}:replica-failure", subject, replica_failure.get("reason") or "ReplicaFailure",
                                replica_failure.get("message") or "",
                                "its pods cannot be created: compare the plan with the namespace's ResourceQuota "
                                f"(kubectl describe quota -n {namespace})", STUCK_GRACE_SECONDS))
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            problems.append(Problem(f"{subject}:deadline", subject, "ProgressDeadlineExceeded",
                                    condition.get("message") or "", f"kubectl describe {kind.lower()} -n {namespace} {name}"))
    return problems


def _event_time(event):
    return event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or ""


def recent_warnings(events, names, limit=WARNINGS_SHOWN):
    """The latest Warning events about the named objects, newest last, as 'Kind name: Reason: message'."""
    about = [e for e in events if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("name") in names]
    about.sort(key=_event_time)
    shown = []
    for event in about[-limit:]:
        involved = event.get("involvedObject") or {}
        count = event.get("count") or 1
        shown.append(f"{involved.get('kind')} {involved.get('name')}: {event.get('reason')}: "
                     f"{(event.get('message') or '').strip()}" + (f" (x{count})" if count > 1 else ""))
    return shown


def scaling_up(events, names):
    """The cluster autoscaler said it is adding a node for one of these pods (and not since that it cannot)."""
    verdicts = sorted((e for e in events if (e.get("involvedObject") or {}).get("name") in names
                       and e.get("reason") in ("TriggeredScaleUp", "NotTriggerScaleUp")), key=_event_time)
    return bool(verdicts) and verdicts[-1].get("reason") == "TriggeredScaleUp"


def explain(what, problem, warnings):
    text = f"{what} cannot happen: {problem.summary()}. What to do: {problem.advice}"
    if warnings:
        text += ". Recent warnings: " + "; ".join(warnings)
    return text


class Stuck:
    """Remembers since when each problem has been seen; a problem counts once it has lasted its grace."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.first_seen = {}

    def lasting(self, problems):
        now = self.clock()
        current = {p.key for p in problems}
        self.first_seen = {key: seen for key, seen in self.first_seen.items() if key in current}
        for problem in problems:
            self.first_seen.setdefault(problem.key, now)
        return [p for p in problems if now - self.first_seen[p.key] >= p.grace]


def match_labels_selector(obj):
    labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
