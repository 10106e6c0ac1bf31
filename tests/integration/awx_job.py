"""Job runs as AWX makes them (issue 15), against the local platform.

What AWX does for a job template, done here with the same pieces:
- the collection is built with `ansible-galaxy collection build` and installed from the tarball
  into the execution environment's collections path (`ExecutionEnvironment`), never the
  repository's link;
- the project is a copy of the repository's files (what a git checkout holds), without the
  collection link, so `odoo_saas.kit` resolves only from that install;
- the inventory is synced as AWX's SCM inventory source does (`ansible-inventory --list --export`
  in the project checkout), and written as AWX writes a job's inventory: an executable
  `inventory/hosts` that prints it;
- the extra variables are the survey's answers (checked and completed with defaults as AWX's
  launch does) and what the credential types inject (playbooks/vars/awx_credential_types.yml,
  files for `file` injectors), in `env/extravars`;
- ansible-runner runs the template's playbook in that private data directory, as a user other
  than root (`runner`, with a home of its own, as in AWX's execution environment images), in a
  mount namespace where root's home and the local platform's state directory are empty, and
  /etc/passwd and /etc/group hold that user: only what the inventory and the credentials pass
  reaches the job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.sandbox
import yaml

from tests.cluster import control_plane

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
RUNNER_NAME = "runner"  # AWX's execution environments run jobs as the user `runner`, not root
COLLECTION_LINK = "collections/ansible_collections/"
JOB_TIMEOUT = 900


class _AwxLoader(yaml.SafeLoader):
    """YAML as Ansible writes it for AWX: `!unsafe` marks a string Ansible must not template."""


_AwxLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load_vars(relative):
    return yaml.load((REPO / relative).read_text(), Loader=_AwxLoader)  # noqa: S506 - a SafeLoader


def job_template(name):
    templates = load_vars("playbooks/vars/job_templates.yml")["odoo_saas_job_templates"]
    return next(t for t in templates if t["name"] == name)


def credential_type(name):
    types = load_vars("playbooks/vars/awx_credential_types.yml")["odoo_saas_awx_credential_types"]
    return next(t for t in types if t["name"] == name)


class Hidden(list):
    """Credentials and secrets, kept out of pytest's reports (a failure prints fixture values)."""

    def __repr__(self):
        return f"<{len(self)} hidden>"


class SurveyError(ValueError):
    """AWX refuses the launch: an answer the survey does not allow."""


def survey_extravars(template, answers, inventory_vars):
    """The extra variables AWX's launch makes of survey answers: each checked against its
    question (length, choices), defaults filled in, a missing required answer refused."""
    questions = {question["variable"]: question for question in template["survey"]}
    unknown = set(answers) - set(questions)
    if unknown:
        raise SurveyError(f"not in the survey of {template['name']}: {sorted(unknown)}")
    extravars = {}
    for variable, question in questions.items():
        if variable not in answers:
            if question.get("default") not in (None, ""):
                extravars[variable] = question["default"]
            elif question.get("required"):
                raise SurveyError(f"{variable} is required")
            continue
        value = answers[variable]
        if question["type"] == "multiplechoice":
            choices = question["choices"]
            if isinstance(choices, str):  # rendered by awx_templates.yml with the inventory's vars
                choices = yaml.safe_load(jinja2.Environment().from_string(choices).render(**inventory_vars))
            if value not in choices:
                raise SurveyError(f"{variable}: {value!r} is not one of {choices}")
        elif not question.get("min", 0) <= len(str(value)) <= question.get("max", 1024):
            raise SurveyError(f"{variable}: length {len(str(value))} outside {question.get('min')}..{question.get('max')}")
        extravars[variable] = value
    return extravars


def inject(kind, inputs, credentials_dir):
    """What a credential of that type puts into a job, as AWX's injectors do: files written into
    the private data directory, then `extra_vars` (and `env`) rendered with the inputs and
    `tower.filename`. Returns (extravars, envvars)."""
    injectors = credential_type(kind)["injectors"]
    sandbox = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    filenames = {}
    for key, template in injectors.get("file", {}).items():
        name = key.split(".", 1)[1] if "." in key else "file"
        path = Path(tempfile.mkstemp(dir=credentials_dir, prefix=f"{name}-")[1])
        path.write_text(sandbox.from_string(template).render(**inputs))
        path.chmod(0o600)
        filenames[name] = str(path)
    tower = {"filename": filenames.get("file") or type("Files", (), filenames)()}
    context = dict(inputs, tower=tower)
    render = {section: {k: sandbox.from_string(v).render(**context) for k, v in injectors.get(section, {}).items()}
              for section in ("extra_vars", "env")}
    return render["extra_vars"], render["env"]


def _run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=JOB_TIMEOUT, **kwargs)


def _checked(result, what):
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@dataclass
class JobRun:
    rc: int
    status: str
    stdout: str
    events: list = field(repr=False)
    artifacts: Path = field(repr=False)

    def results_of(self, task_name):
        """The module results (event_data.res) of a task's runner_on_ok/failed events."""
        return [event["event_data"]["res"] for event in self.events
                if event.get("event") in ("runner_on_ok", "runner_on_failed")
                and event.get("event_data", {}).get("task") == task_name]

    def texts(self):
        """Everything the job left for AWX to show and store: stdout, every event, artifacts."""
        for path in sorted(self.artifacts.rglob("*")):
            if path.is_file():
                yield path, path.read_text(errors="replace")


class ExecutionEnvironment:
    """A base directory (owned by the runner user) holding the built collection's install (the execution
    environment's collections path) and one private data directory per job."""

    def __init__(self, base: Path):
        self.base = base
        self.collections = base / "ee" / "collections"
        self.home = base / "home"
        self.tarball = None
        self.uid = _free_id()

    @classmethod
    def create(cls):
        base = Path(tempfile.mkdtemp(prefix="odoo-saas-awx-", dir="/tmp"))
        base.chmod(0o755)
        environment = cls(base)
        environment.home.mkdir()
        environment.write_accounts()
        environment.build_and_install()
        _chown_tree(base, environment.uid)
        return environment

    def build_and_install(self):
        build_dir = self.base / "build"
        build_dir.mkdir()
        bin_dir = VENV / "bin"
        # No ANSIBLE_CONFIG: the repository's ansible.cfg puts its own link on the collections
        # path, and ansible-galaxy would call the collection installed already.
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        _checked(_run([str(bin_dir / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path", str(build_dir)],
                      cwd=build_dir, env=clean), "ansible-galaxy collection build")
        (self.tarball,) = build_dir.glob("odoo_saas-kit-*.tar.gz")
        # --no-deps: kubernetes.core and community.postgresql come from the ansible package here
        # (Galaxy is not reachable); the execution environment installs them from requirements.yml.
        _checked(_run([str(bin_dir / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(self.collections),
                       str(self.tarball)], cwd=build_dir, env=clean), "ansible-galaxy collection install")
        assert (self.installed_root() / "MANIFEST.json").is_file(), "ansible-galaxy installed nothing"

    def write_accounts(self):
        """/etc/passwd and /etc/group with the runner user added, for the job's mount namespace."""
        passwd = Path("/etc/passwd").read_text().rstrip("\n")
        group = Path("/etc/group").read_text().rstrip("\n")
        (self.base / "passwd").write_text(f"{passwd}\n{RUNNER_NAME}:x:{self.uid}:{self.uid}:AWX runner:{self.home}:/bin/sh\n")
        (self.base / "group").write_text(f"{group}\n{RUNNER_NAME}:x:{self.uid}:\n")
        for name in ("passwd", "group"):
            (self.base / name).chmod(0o644)

    def installed_root(self):
        return self.collections / "ansible_collections" / "odoo_saas" / "kit"

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def _sandboxed(self, command, cwd):
        """command run as the runner user in a mount namespace where root's home and the local platform's
        state directory are empty tmpfs mounts. The virtualenv and the Python it was made from
        (both under root's home here) are put back read-only: they stand for the execution
        environment's Python."""
        hidden = [Path.home().resolve(), control_plane.layout().root.resolve()]
        kept = [VENV, Path(sys.base_prefix).resolve()]
        script = ['set -e', f'mount --bind "{self.base / "passwd"}" /etc/passwd', f'mount --bind "{self.base / "group"}" /etc/group']
        for index, directory in enumerate(kept):
            stage = self.base / f"stage-{index}"
            stage.mkdir(exist_ok=True)
            script.append(f'mount --bind "{directory}" "{stage}"')
        for directory in hidden:
            if directory.is_dir():
                script.append(f'mount -t tmpfs -o mode=0755,size=1m tmpfs "{directory}"')
        for index, directory in enumerate(kept):
            stage = self.base / f"stage-{index}"
            script += [f'mkdir -p "{directory}"', f'mount --bind -o ro "{stage}" "{directory}"', f'umount "{stage}"']
        script += [f'cd "{cwd}"', f'exec setpriv --reuid={self.uid} --regid={self.uid} --clear-groups -- "$@"']
        env = {"PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8",
               "ANSIBLE_COLLECTIONS_PATH": str(self.collections)}
        return _run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "\n".join(script), "sh",
                     "env", "-i", *[f"{k}={v}" for k, v in env.items()], *command])

    def job(self, template_name, answers=None, credentials=(), inventory_files=None, envvars=None):
        """Launches a job template: a fresh private data directory (project copy, synced
        inventory, extra variables from survey and credentials), run by ansible-runner."""
        template = job_template(template_name)
        pdd = Path(tempfile.mkdtemp(prefix="job-", dir=self.base))
        project = pdd / "project"
        _copy_project(project)
        for relative, text in (inventory_files or {}).items():  # the fleet as code: a commit to the inventory
            (project / relative).parent.mkdir(parents=True, exist_ok=True)
            (project / relative).write_text(text)
        (pdd / "inventory").mkdir()
        (pdd / "env").mkdir()
        credentials_dir = pdd / "env" / "credentials"
        credentials_dir.mkdir()
        extravars = {}
        envvars = {"ANSIBLE_COLLECTIONS_PATH": str(self.collections), "HOME": str(self.home), **(envvars or {})}
        for kind, inputs in credentials:
            injected_vars, injected_env = inject(kind, inputs, credentials_dir)
            extravars.update(injected_vars)
            envvars.update(injected_env)
        _chown_tree(pdd, self.uid)

        synced = self.sync_inventory(project)
        extravars.update(survey_extravars(template, answers or {}, synced["all"].get("vars", {})))
        hosts = pdd / "inventory" / "hosts"
        hosts.write_text(f"#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint({json.dumps(synced)!r})\n")
        hosts.chmod(0o700)
        (pdd / "env" / "extravars").write_text(json.dumps(extravars))
        (pdd / "env" / "envvars").write_text(json.dumps(envvars))
        _chown_tree(pdd, self.uid)

        ident = "1"
        result = self._sandboxed([str(VENV / "bin" / "ansible-runner"), "run", str(pdd), "--ident", ident,
                                  "-p", template["playbook"]], cwd=pdd)
        artifacts = pdd / "artifacts" / ident
        assert artifacts.is_dir(), f"ansible-runner left no artifacts:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"),
                                                            key=lambda p: int(p.name.split("-", 1)[0]))]
        status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else "unknown"
        rc = int((artifacts / "rc").read_text()) if (artifacts / "rc").exists() else result.returncode
        stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else result.stdout
        return JobRun(rc=rc, status=status, stdout=stdout, events=events, artifacts=artifacts)

    def sync_inventory(self, project):
        """AWX's SCM inventory source: ansible-inventory in the project checkout, vars exported
        as written (templates are rendered at job time, not at sync)."""
        result = _checked(self._sandboxed([str(VENV / "bin" / "ansible-inventory"), "-i", "inventories/local/hosts.yml",
                                           "--list", "--export"], cwd=project), "the inventory sync")
        return json.loads(result.stdout)


def _project_files():
    listed = _checked(_run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO), "git ls-files").stdout
    return [name for name in listed.split("\0") if name and not name.startswith(COLLECTION_LINK)]


def _copy_project(project):
    for name in _project_files():
        source = REPO / name
        if source.is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)


def _chown_tree(root, uid):
    for path in [root, *root.rglob("*")]:
        if path.name not in ("passwd", "group") or path.parent != root:
            os.lchown(path, uid, uid)


def _free_id(start=61000):
    """A user and group id that no account or group of this machine has."""
    taken = {int(line.split(":")[2]) for name in ("/etc/passwd", "/etc/group")
             for line in Path(name).read_text().splitlines() if line.count(":") >= 2}
    return next(candidate for candidate in range(start, start + 1000) if candidate not in taken)
