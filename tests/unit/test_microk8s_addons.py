"""The addon reconciliation filter (odoo_saas.kit.microk8s_addon_changes) on recorded
`microk8s status --format yaml` outputs (tests/unit/fixtures/microk8s/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.odoo_saas.kit.plugins.filter.microk8s_addons import FilterModule, microk8s_addon_changes

FIXTURES = Path(__file__).parent / "fixtures" / "microk8s"
ROLE_DEFAULTS = Path(__file__).resolve().parents[2] / "roles" / "microk8s" / "defaults" / "main.yml"

# What roles/microk8s wants by default (kept in step with its defaults by the test below).
WANTED = [
    {"name": "dns"},
    {"name": "rbac"},
    {"name": "hostpath-storage"},
    {"name": "registry", "args": ["--size", "20Gi"]},
    {"name": "metrics-server"},
    {"name": "ingress", "state": "disabled"},
]


def status(name):
    return (FIXTURES / f"{name}.yaml").read_text()


def test_the_filter_is_registered_under_its_documented_name():
    assert FilterModule().filters() == {"microk8s_addon_changes": microk8s_addon_changes}


def test_a_fresh_install_enables_every_wanted_addon_in_order_with_its_arguments():
    plan = microk8s_addon_changes(status("fresh-install"), WANTED)
    assert plan["enable"] == ["dns", "rbac", "hostpath-storage", "registry", "metrics-server"]
    assert plan["disable"] == []
    assert plan["commands"] == [
        ["enable", "dns"], ["enable", "rbac"], ["enable", "hostpath-storage"],
        ["enable", "registry", "--size", "20Gi"], ["enable", "metrics-server"],
    ]


@pytest.mark.parametrize("fixture", ["converged", "ha-three-nodes"])
def test_a_converged_cluster_needs_nothing(fixture):
    assert microk8s_addon_changes(status(fixture), WANTED) == {"enable": [], "disable": [], "commands": []}


def test_drift_is_undone_disables_first():
    plan = microk8s_addon_changes(status("drifted"), WANTED)
    assert plan == {
        "enable": ["metrics-server"],
        "disable": ["ingress"],
        "commands": [["disable", "ingress"], ["enable", "metrics-server"]],
    }


def test_unlisted_addons_stay_unless_asked_and_microk8s_own_defaults_always_stay():
    assert "dashboard" not in microk8s_addon_changes(status("drifted"), WANTED)["disable"]
    plan = microk8s_addon_changes(status("drifted"), WANTED, disable_unlisted=True)
    # hostpath-storage's alias `storage` and the community repository are enabled too.
    assert plan["disable"] == ["ingress", "core/community", "core/dashboard", "core/storage"]
    assert not {"core/ha-cluster", "core/helm", "core/helm3"} & set(plan["disable"])


def test_parsed_and_raw_status_give_the_same_plan():
    raw = status("drifted")
    assert microk8s_addon_changes(yaml.safe_load(raw), WANTED) == microk8s_addon_changes(raw, WANTED)


def test_names_may_be_plain_strings_or_repository_qualified():
    plan = microk8s_addon_changes(status("converged"), ["core/dns", "community/traefik", "community/argocd"])
    assert plan["enable"] == ["community/traefik", "community/argocd"]
    assert plan["commands"] == [["enable", "community/traefik"], ["enable", "community/argocd"]]


def test_an_unqualified_name_in_two_repositories_takes_core():
    data = yaml.safe_load(status("converged"))
    data["addons"].append({"name": "dashboard", "repository": "community", "description": "x", "version": "1",
                           "status": "enabled"})
    # core/dashboard is disabled: enabling the unqualified name means core's.
    assert microk8s_addon_changes(data, ["dashboard"])["enable"] == ["dashboard"]
    assert microk8s_addon_changes(data, ["community/dashboard"])["enable"] == []


def test_a_name_in_two_non_core_repositories_must_be_qualified():
    data = yaml.safe_load(status("converged"))
    for repo in ("one", "two"):
        data["addons"].append({"name": "thing", "repository": repo, "description": "x", "version": "1",
                               "status": "disabled"})
    with pytest.raises(AnsibleFilterError, match=r"thing is ambiguous \(one/thing, two/thing\)"):
        microk8s_addon_changes(data, ["thing"])


def test_an_unknown_wanted_addon_is_an_error_naming_the_available_ones():
    with pytest.raises(AnsibleFilterError, match=r"no addon 'dnss' \(available: .*core/dns.*\)"):
        microk8s_addon_changes(status("fresh-install"), ["dnss"])


def test_an_unknown_addon_wanted_disabled_is_nothing_to_do():
    assert microk8s_addon_changes(status("fresh-install"), [{"name": "nginx-old", "state": "disabled"}])["commands"] == []


def test_states_accept_present_and_absent():
    wanted = [{"name": "dashboard", "state": "absent"}, {"name": "metrics-server", "state": "present"}]
    plan = microk8s_addon_changes(status("drifted"), wanted)
    assert plan["commands"] == [["disable", "dashboard"], ["enable", "metrics-server"]]


def test_a_stopped_microk8s_is_refused_with_its_message():
    with pytest.raises(AnsibleFilterError, match=r"MicroK8s is not running \(microk8s is not running\. Use"):
        microk8s_addon_changes(status("not-running"), WANTED)


@pytest.mark.parametrize("bad_status, message", [
    ("microk8s: [running: true", "not YAML"),
    ("- a list", "a mapping"),
    ({"microk8s": {"running": True}}, "no `addons` list"),
    ({"microk8s": {"running": True}, "addons": [{"name": "dns"}]}, r"addons\[0\] needs a name and a status"),
])
def test_malformed_status_is_refused(bad_status, message):
    with pytest.raises(AnsibleFilterError, match=message):
        microk8s_addon_changes(bad_status, WANTED)


@pytest.mark.parametrize("bad_wanted, message", [
    ("dns", "must be a list"),
    ([{"state": "enabled"}], r"wanted\[0\] needs a name"),
    ([{"name": "dns", "state": "on"}], "state must be enabled or disabled"),
    ([{"name": "dns", "args": {"a": 1}}], "args must be a list"),
    ([{"name": "dns", "version": "1"}], "unknown keys: version"),
    (["dns", {"name": "dns"}], "listed twice"),
])
def test_malformed_wanted_list_is_refused(bad_wanted, message):
    with pytest.raises(AnsibleFilterError, match=message):
        microk8s_addon_changes(status("fresh-install"), bad_wanted)


def test_args_given_as_one_string_are_one_argument():
    plan = microk8s_addon_changes(status("fresh-install"), [{"name": "dns", "args": "1.1.1.1,9.9.9.9"}])
    assert plan["commands"] == [["enable", "dns", "1.1.1.1,9.9.9.9"]]


def test_the_role_defaults_converge_on_the_recorded_converged_cluster():
    """roles/microk8s' default addons are what the `converged` fixture shows enabled."""
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    wanted = defaults["microk8s_addons"]
    assert microk8s_addon_changes(status("converged"), wanted)["commands"] == []
    assert microk8s_addon_changes(status("fresh-install"), wanted)["enable"]
