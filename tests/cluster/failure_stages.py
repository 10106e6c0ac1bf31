"""kwok Stages that put pods into the failure states a real kubelet reports, so the waits'
reasons can be tested against the real API server, Job controller and scheduler.

A pod is selected by its image, `odoo-saas.test/fail:<mode>` (image(mode)): a tenant's image
is a setting tests can give, while its pod templates take no annotations from input, and a
wrong image is exactly what yields ImagePullBackOff on a real cluster. The stages weigh more
than kwok's own pod-ready, so they win when both match. Unschedulable needs no stage: the real
scheduler says it. Stage changes take effect when kwok restarts (`make down && make up`).
"""

from __future__ import annotations

from pathlib import Path

from . import settings

IMAGE_REPOSITORY = "odoo-saas.test/fail"
MODES = ("image-pull", "crash-loop", "oom", "job-backoff")


def image(mode: str) -> str:
    if mode not in MODES:
        raise KeyError(f"no kwok failure stage {mode!r}; one of {', '.join(MODES)}")
    return f"{IMAGE_REPOSITORY}:{mode}"


def _selector(mode: str, job_pods: bool | None) -> str:
    owner = ""
    if job_pods is not None:
        owner = f"""
    - key: '.metadata.ownerReferences.[].kind'
      operator: '{"In" if job_pods else "NotIn"}'
      values: ['Job']"""
    return f"""  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.spec.containers.[].image'
      operator: 'In'
      values: ['{image(mode)}']{owner}
  weight: 10000"""


def _indented(status: str) -> str:
    """A status template indented under `statusTemplate: |`."""
    return "\n".join("      " + line if line else "" for line in status.strip("\n").splitlines())


def _stage(mode: str, job_pods: bool | None, event: tuple[str, str], status: str) -> str:
    body = _indented(status)
    return f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: odoo-saas-fail-{mode}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
{_selector(mode, job_pods)}
  next:
    event:
      type: Warning
      reason: {event[0]}
      message: '{event[1]}'
    statusTemplate: |
{body}
"""


NOT_READY = """
conditions:
- type: Initialized
  status: "True"
- type: Ready
  status: "False"
  reason: ContainersNotReady
- type: ContainersReady
  status: "False"
  reason: ContainersNotReady
"""


def _waiting(waiting: str) -> str:
    """Every container waiting (the `waiting:` fields given), the pod Pending."""
    fields = "".join(f"\n      {line}" for line in waiting.strip("\n").splitlines())
    return """
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:""" + fields + """
{{ end }}
phase: Pending
"""


# Stays Pending (the stage keeps matching, so kwok's pod-ready never takes over): no timestamps
# in it, so applying it again changes nothing and kwok skips the patch.
IMAGE_PULL = NOT_READY + _waiting("""
reason: ImagePullBackOff
message: {{ printf "Back-off pulling image %q: not found" .image | Quote }}
""")


def _crash_loop(reason: str, exit_code: int) -> str:
    return NOT_READY + f"""
{{{{ $now := Now }}}}
containerStatuses:
{{{{ range .spec.containers }}}}
- image: {{{{ .image | Quote }}}}
  name: {{{{ .name | Quote }}}}
  ready: false
  restartCount: 5
  started: false
  state:
    waiting:
      reason: CrashLoopBackOff
      message: back-off 2m40s restarting failed container
  lastState:
    terminated:
      reason: {reason}
      exitCode: {exit_code}
      startedAt: {{{{ $now | Quote }}}}
      finishedAt: {{{{ $now | Quote }}}}
{{{{ end }}}}
phase: Running
startTime: {{{{ $now | Quote }}}}
"""


JOB_POD_FAILED = """
{{ $now := Now }}
conditions:
- type: Ready
  status: "False"
  reason: PodFailed
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      reason: Error
      exitCode: 1
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Failed
startTime: {{ $now | Quote }}
"""

STAGES = {
    "image-pull": (None, ("Failed", "Failed to pull image: not found"), IMAGE_PULL),
    # Job pods (restartPolicy Never) do not crash-loop: these select the Deployments' pods only.
    "crash-loop": (False, ("BackOff", "Back-off restarting failed container"), _crash_loop("Error", 1)),
    "oom": (False, ("BackOff", "Back-off restarting failed container"), _crash_loop("OOMKilled", 137)),
    "job-backoff": (True, ("Failed", "Error: the container exited with code 1"), JOB_POD_FAILED),
}


# Pods of the kubelet stand-in's image (job_kubelet) stay Pending, "ContainerCreating", until
# the stand-in has run them and written their end into their status; kwok's pod-ready and
# pod-complete would otherwise complete them without running anything. No timestamps: applying
# it again changes nothing, so kwok skips the patch.
HELD_IMAGE = "odoo-saas.test/kubelet-stand-in:backup"
HELD = """apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: odoo-saas-kubelet-stand-in
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.spec.containers.[].image'
      operator: 'In'
      values: ['""" + HELD_IMAGE + """']
  weight: 10000
  next:
    statusTemplate: |
""" + _indented(_waiting("reason: ContainerCreating")) + "\n"


def stage_dir() -> Path:
    return settings.state_dir() / "kwok-stages"


def files() -> list[Path]:
    """The stage files, written (again) into the clone's state directory; kwok loads them at start."""
    directory = stage_dir()
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for mode, (job_pods, event, status) in STAGES.items():
        path = directory / f"odoo-saas-fail-{mode}.yaml"
        text = _stage(mode, job_pods, event, status)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    held = directory / "odoo-saas-kubelet-stand-in.yaml"
    if not held.exists() or held.read_text() != HELD:
        held.write_text(HELD)
    return paths + [held]
