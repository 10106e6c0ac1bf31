"""A tenant's object names have one source, manifests_base: code that reads, waits for or deletes
one of them names it by that constant, never by a string of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import base as manifests_base

MODULE_UTILS = Path(manifests_base.__file__).parent.parent
# Kube methods and the position of their `name` argument.
NAME_ARGUMENT = {"get": 2, "delete": 2, "wait_gone": 2, "wait_job_complete": 1, "wait_rollout": 2}
OBJECT_NAMES = {
    value for key, value in vars(manifests_base).items()
    if key in {"DB_SECRET", "CONFIG_SECRET", "FILESTORE_CLAIM", "INIT_JOB", "WEB_DEPLOYMENT", "CRON_DEPLOYMENT",
               "ODOO_SERVICE", "INGRESS", "POSTGRES", "POSTGRES_SECRET", "POSTGRES_INIT", "SERVICE_ACCOUNT"}
}


def literal_object_names(source: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in NAME_ARGUMENT:
            position = NAME_ARGUMENT[node.func.attr]
            if len(node.args) > position and isinstance(node.args[position], ast.Constant):
                if node.args[position].value in OBJECT_NAMES:
                    yield node.lineno, node.args[position].value


def test_the_check_finds_a_literal_name():
    assert list(literal_object_names('kube.get("apps/v1", "Deployment", "odoo-web", ns)')) == [(1, "odoo-web")]
    assert not list(literal_object_names('kube.get("apps/v1", "Deployment", WEB_DEPLOYMENT, ns)'))


@pytest.mark.parametrize("path", sorted(MODULE_UTILS.rglob("*.py")), ids=lambda p: str(p.relative_to(MODULE_UTILS)))
def test_no_module_names_a_tenant_object_by_a_literal(path):
    assert not list(literal_object_names(path.read_text())), str(path)
