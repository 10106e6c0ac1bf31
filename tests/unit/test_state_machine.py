"""The tenant state machine: the table in operations/table.py, the drawing in
docs/tenant-lifecycle.md, and the ledger's states agree; requests the table has no row for
are refused with what to do instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.ledger import STATES
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SaasError
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_args import TENANT_ARGS
from ansible_collections.odoo_saas.kit.plugins.module_utils.operations.table import TRANSITIONS, choose

DOC = Path(__file__).resolve().parents[2] / "docs" / "tenant-lifecycle.md"
ARROW = re.compile(r"^\s*(\S+) --> (\S+): (\w+) / (\w+)\s*$")


def drawn_edges(text):
    block = re.search(r"```mermaid\nstateDiagram-v2\n(.*?)```", text, re.S)
    assert block, "docs/tenant-lifecycle.md has no mermaid stateDiagram-v2 block"
    edges = set()
    for line in block.group(1).splitlines():
        match = ARROW.match(line)
        assert match, f"not an arrow of the form 'a --> b: request / operation': {line!r}"
        source, target, request, operation = match.groups()
        edges.add((None if source == "[*]" else source, target, request, operation))
    return edges


def table_edges():
    return {(source, target, t.request, t.operation) for t in TRANSITIONS for source, target in t.edges()}


def test_the_drawing_is_the_table():
    assert drawn_edges(DOC.read_text()) == table_edges()


def test_the_check_sees_a_missing_or_extra_arrow():
    text = DOC.read_text()
    assert drawn_edges(text.replace("    active --> active: present / change\n", "")) != table_edges()
    extra = text.replace("stateDiagram-v2\n", "stateDiagram-v2\n    deleted --> active: present / resume\n")
    assert drawn_edges(extra) != table_edges()


def test_the_table_uses_the_ledgers_states_and_the_modules_requests():
    used = {state for t in TRANSITIONS for state in (*t.sources, t.target, t.through) if state}
    assert used == set(STATES)
    assert {t.request for t in TRANSITIONS} == set(TENANT_ARGS["state"]["choices"])


@pytest.mark.parametrize("current,asked,operation", [
    (None, "present", "provision"), ("deleted", "present", "provision"), ("provisioning", "present", "provision"),
    ("active", "present", "change"), ("suspended", "present", "resume"), ("active", "suspended", "suspend"),
    ("provisioning", "suspended", "suspend"), ("suspended", "suspended", "suspend"),
    ("active", "absent", "remove"), ("deleting", "absent", "remove"), ("deleted", "absent", "remove"),
    (None, "absent", "remove"),
])
def test_each_request_takes_its_transition(current, asked, operation):
    assert choose("acme", asked, current).operation == operation


def test_suspending_a_tenant_that_does_not_exist_says_to_provision_it():
    for current in (None, "deleted"):
        with pytest.raises(SaasError, match=r"tenant acme does not exist: provision it \(state: present\) before suspending"):
            choose("acme", "suspended", current)


def test_a_removal_under_way_is_finished_before_the_tenant_comes_back():
    with pytest.raises(SaasError, match=r"tenant acme is being removed .* run state: absent again to finish it"):
        choose("acme", "present", "deleting")
    with pytest.raises(SaasError, match="being removed"):
        choose("acme", "suspended", "deleting")
