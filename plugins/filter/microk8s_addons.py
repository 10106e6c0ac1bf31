# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter odoo_saas.kit.microk8s_addon_changes: what `microk8s enable`/`disable` must run so the
cluster's addons match the wanted list. Documented in microk8s_addon_changes.yml next to this file.

Pure Python on plain data: the parsed (or raw) output of `microk8s status --format yaml` and
the wanted addons in, a plan out. Only what differs is enabled or disabled.
"""

from __future__ import annotations

import yaml

from ansible.errors import AnsibleFilterError

ENABLED = "enabled"
DISABLED = "disabled"
STATES = {"enabled": ENABLED, "present": ENABLED, "disabled": DISABLED, "absent": DISABLED}
# Enabled by MicroK8s itself on every install; `disable_unlisted` leaves them alone.
DEFAULT_PROTECTED = ("ha-cluster", "helm", "helm3")
PREFERRED_REPOSITORY = "core"


def _parse_status(status):
    if isinstance(status, (str, bytes)):
        try:
            status = yaml.safe_load(status)
        except yaml.YAMLError as error:
            raise AnsibleFilterError(f"microk8s_addon_changes: the status is not YAML ({error})") from None
    if not isinstance(status, dict):
        raise AnsibleFilterError("microk8s_addon_changes: expected the output of `microk8s status --format yaml` "
                                 f"(a mapping), got {type(status).__name__}")
    head = status.get("microk8s")
    running = head.get("running") if isinstance(head, dict) else None
    if running is not True and str(running).lower() != "true":
        message = head.get("message") if isinstance(head, dict) else None
        raise AnsibleFilterError("microk8s_addon_changes: MicroK8s is not running"
                                 + (f" ({message})" if message else "") + "; wait for `microk8s status --wait-ready`")
    addons = status.get("addons")
    if not isinstance(addons, list):
        raise AnsibleFilterError("microk8s_addon_changes: the status has no `addons` list")
    known = []
    for index, addon in enumerate(addons):
        if not isinstance(addon, dict) or not addon.get("name") or addon.get("status") not in (ENABLED, DISABLED):
            raise AnsibleFilterError(f"microk8s_addon_changes: addons[{index}] needs a name and a status "
                                     f"(enabled or disabled), got {addon!r}")
        known.append({"name": str(addon["name"]), "repository": str(addon.get("repository") or ""),
                      "status": addon["status"]})
    return known


def _parse_wanted(wanted):
    if wanted is None:
        return []
    if not isinstance(wanted, (list, tuple)):
        raise AnsibleFilterError("microk8s_addon_changes: the wanted addons must be a list of names or of "
                                 f"{{name, state, args}} mappings, got {type(wanted).__name__}")
    entries = []
    seen = set()
    for index, item in enumerate(wanted):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise AnsibleFilterError(f"microk8s_addon_changes: wanted[{index}] needs a name, got {item!r}")
        unknown_keys = set(item) - {"name", "state", "args"}
        if unknown_keys:
            raise AnsibleFilterError(f"microk8s_addon_changes: wanted[{index}] ({item['name']}) has unknown keys: "
                                     + ", ".join(sorted(unknown_keys)))
        state = STATES.get(str(item.get("state", ENABLED)).lower())
        if state is None:
            raise AnsibleFilterError(f"microk8s_addon_changes: wanted[{index}] ({item['name']}): state must be "
                                     f"enabled or disabled, got {item.get('state')!r}")
        args = item.get("args") or []
        if isinstance(args, str):
            args = [args]
        if not isinstance(args, (list, tuple)) or not all(isinstance(a, (str, int, float)) for a in args):
            raise AnsibleFilterError(f"microk8s_addon_changes: wanted[{index}] ({item['name']}): args must be a "
                                     "list of strings")
        name = item["name"].strip()
        if name in seen:
            raise AnsibleFilterError(f"microk8s_addon_changes: {name} is listed twice in the wanted addons")
        seen.add(name)
        entries.append({"name": name, "state": state, "args": [str(a) for a in args]})
    return entries


def _lookup(known, name):
    """The status entry of `name` (`dns` or `core/dns`); None when MicroK8s has no such addon."""
    repository, _sep, short = name.rpartition("/")
    candidates = [a for a in known if a["name"] == short and (not repository or a["repository"] == repository)]
    if len(candidates) > 1:
        preferred = [a for a in candidates if a["repository"] == PREFERRED_REPOSITORY]
        if len(preferred) != 1:
            repositories = ", ".join(f"{a['repository']}/{a['name']}" for a in candidates)
            raise AnsibleFilterError(f"microk8s_addon_changes: {name} is ambiguous ({repositories}); "
                                     "qualify it with its repository")
        return preferred[0]
    return candidates[0] if candidates else None


def microk8s_addon_changes(status, wanted, disable_unlisted=False, protected=DEFAULT_PROTECTED):
    """Return {enable, disable, commands}: the addons to enable and to disable (names as wanted),
    and the `microk8s` argument lists that do it, disables first."""
    known = _parse_status(status)
    entries = _parse_wanted(wanted)
    enable, disable, commands = [], [], []
    enable_commands = []
    covered = set()
    for entry in entries:
        current = _lookup(known, entry["name"])
        if current is None:
            if entry["state"] == DISABLED:
                continue  # nothing to disable: this MicroK8s has no such addon
            names = ", ".join(sorted({f"{a['repository']}/{a['name']}" if a["repository"] else a["name"]
                                      for a in known}))
            raise AnsibleFilterError(f"microk8s_addon_changes: MicroK8s has no addon {entry['name']!r} "
                                     f"(available: {names}). Check the name, or enable its repository first")
        covered.add((current["repository"], current["name"]))
        if entry["state"] == ENABLED and current["status"] != ENABLED:
            enable.append(entry["name"])
            enable_commands.append(["enable", entry["name"], *entry["args"]])
        elif entry["state"] == DISABLED and current["status"] == ENABLED:
            disable.append(entry["name"])
            commands.append(["disable", entry["name"]])
    if disable_unlisted:
        keep = set(protected or ())
        for addon in known:
            if addon["status"] != ENABLED or (addon["repository"], addon["name"]) in covered:
                continue
            if addon["name"] in keep or f"{addon['repository']}/{addon['name']}" in keep:
                continue
            name = f"{addon['repository']}/{addon['name']}" if addon["repository"] else addon["name"]
            disable.append(name)
            commands.append(["disable", name])
    commands.extend(enable_commands)
    return {"enable": enable, "disable": disable, "commands": commands}


class FilterModule:
    """odoo_saas.kit filters for MicroK8s."""

    def filters(self):
        return {"microk8s_addon_changes": microk8s_addon_changes}
