"""The job templates' surveys (playbooks/vars/job_templates.yml) and the playbooks they run
agree (issue 15): every survey variable is read by its playbook, every variable a playbook
requires (`<var> is defined` in its checks) is asked, as required, and the surveys' limits are
those of the modules' own validation, so a survey answer the module would refuse cannot be
typed, and one it accepts is never refused by the form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup_set
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_args import TENANT_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = yaml.safe_load((REPO / "playbooks" / "vars" / "job_templates.yml").read_text())["odoo_saas_job_templates"]
IDS = [template["name"] for template in TEMPLATES]


def _playbook(template):
    return (REPO / template["playbook"]).read_text()


def _survey(template):
    return {question["variable"]: question for question in template["survey"]}


def _longest_backup_id():
    return max(len(backup_set.new_backup_id(kind)) for kind in backup_set.KINDS)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_every_survey_variable_is_read_by_the_playbook(template):
    text = _playbook(template)
    unused = [name for name in _survey(template) if not re.search(rf"\b{name}\b", text)]
    assert not unused, f"{template['playbook']} never reads {unused}"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_every_variable_the_playbook_requires_is_asked_as_required(template):
    # odoo_saas_* come from the inventory (the fleet of tenants_reconcile), not from a survey.
    required = {name for name in re.findall(r"\b([a-z_]+) is defined\b", _playbook(template))
                if not name.startswith("odoo_saas_")}
    survey = _survey(template)
    missing = sorted(required - set(survey))
    assert not missing, f"{template['playbook']} requires {missing}, which the survey does not ask"
    optional = sorted(name for name in required if not survey[name].get("required"))
    assert not optional, f"{template['playbook']} requires {optional}, which the survey leaves optional"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_the_surveys_limits_are_the_modules_own(template):
    for name, question in _survey(template).items():
        if question["type"] == "text":
            assert question["min"] <= question["max"], name
        if name in ("tenant_name", "tenant_confirm", "from_tenant"):
            assert question["max"] == naming.MAX_LENGTH, f"{name}: the module takes names up to {naming.MAX_LENGTH}"
            assert question["min"] == (naming.MIN_LENGTH if question["required"] else 0), name
        elif name == "backup_id":
            assert question["max"] >= _longest_backup_id(), f"{name}: a {_longest_backup_id()}-character id must fit"
        elif name == "tenant_db_strategy":
            assert question["choices"] == TENANT_ARGS["db_strategy"]["choices"]
        if question["type"] == "multiplechoice" and isinstance(question["choices"], list):
            assert question.get("default") in question["choices"], name


def test_each_playbook_has_one_template_and_the_templates_cover_every_tenant_playbook():
    playbooks = [template["playbook"] for template in TEMPLATES]
    assert len(playbooks) == len(set(playbooks))
    tenant_playbooks = {f"playbooks/{path.name}" for path in (REPO / "playbooks").glob("tenant*.yml")}
    tenant_playbooks |= {"playbooks/backups_purge.yml"}
    assert tenant_playbooks <= set(playbooks), f"no job template runs {sorted(tenant_playbooks - set(playbooks))}"
