"""The core's folders are its layers (docs/architecture.md), and imports go one way:
request and manifests are pure, engines talk to the outside, operations combine them, front
ends call operations; programs (what a Job's container runs) use engines only. A new import against that direction fails here, naming the file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.odoo_saas.kit.plugins.module_utils import errors

MODULE_UTILS = Path(errors.__file__).parent
SHARED = {"errors", "redact", "crashpoints"}  # at the top: what every layer may use
LAYERS = ("request", "manifests", "engines", "programs", "operations", "front")
MAY_IMPORT = {
    "top": set(),
    "request": set(),
    "manifests": {"request"},
    "engines": {"request"},
    "programs": {"request", "engines"},
    "operations": {"request", "manifests", "engines"},
    "front": {"request", "manifests", "engines", "operations"},
}
# Known and documented in docs/architecture.md: whether a plan fits is judged by the manifests'
# own cost model, and the inventory check reuses the connection settings' validation.
EXCEPTIONS = {
    ("request/plan_fit.py", "manifests"), ("request/node_fit.py", "manifests"), ("request/inventory.py", "engines"),
}


def layer_of(path):
    relative = path.relative_to(MODULE_UTILS)
    return relative.parts[0] if len(relative.parts) > 1 else "top"


ABSOLUTE = "ansible_collections.odoo_saas.kit.plugins.module_utils"


def imported_layers(source, layer):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(ABSOLUTE + "."):
            first = node.module[len(ABSOLUTE) + 1:].split(".")[0]
            if first != layer and first not in SHARED:
                yield first if first in LAYERS else "top"
            continue
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        first = (node.module or "").split(".")[0]
        inside_top = layer == "top" and node.level == 1
        if (node.level == 1 and not inside_top) or first in SHARED or (inside_top and not first):
            continue  # its own layer, or the shared modules
        yield first if first in LAYERS else "top"


FILES = sorted(MODULE_UTILS.rglob("*.py"))


def test_every_module_is_in_a_layer_or_shared():
    for path in FILES:
        layer = layer_of(path)
        assert layer in LAYERS or path.stem in SHARED, f"{path.relative_to(MODULE_UTILS)} is in no layer"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(MODULE_UTILS)))
def test_imports_go_one_way(path):
    relative = str(path.relative_to(MODULE_UTILS))
    against = {target for target in imported_layers(path.read_text(), layer_of(path))
               if target not in MAY_IMPORT[layer_of(path)] and (relative, target) not in EXCEPTIONS}
    assert not against, f"{relative} ({layer_of(path)}) imports {sorted(against)}"


def test_the_check_tells_the_layer_an_import_reaches():
    source = ("from . import plans\nfrom ..errors import SpecError\nfrom ..operations import table\n"
              "from ..engines.kube import Kube\nfrom ..manifests import tenant as manifests\n")
    assert sorted(imported_layers(source, "request")) == ["engines", "manifests", "operations"]
    assert list(imported_layers("from .errors import SaasError\nfrom .request import spec\n", "top")) == ["request"]
    assert list(imported_layers(f"from {ABSOLUTE}.front.tenant import run_tenant\n", "engines")) == ["front"]
