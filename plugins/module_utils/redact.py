# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Remove secrets from Kubernetes objects and text before they reach results, diffs or logs."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

REDACTED = "********"
SENSITIVE_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
# kubectl's client-side apply keeps a copy of the whole object, data included.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact_object(obj: dict) -> dict:
    """A deep copy of `obj` with: every value under `data`/`stringData` of a Secret replaced
    (keys kept, so a diff still shows which keys changed hands), and the `value` of every env
    var whose name contains PASSWORD, SECRET, TOKEN or KEY. Lists (kind: ...List) too."""
    result = copy.deepcopy(obj)
    _redact(result)
    return result


def _redact(node):
    if isinstance(node, list):
        for item in node:
            _redact(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(node.get(key), dict):
                node[key] = {name: REDACTED for name in node[key]}
        annotations = (node.get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = REDACTED
    for key, value in node.items():
        if key == "env" and isinstance(value, list):
            for var in value:
                if isinstance(var, dict) and "value" in var and SENSITIVE_NAME.search(str(var.get("name", ""))):
                    var["value"] = REDACTED
        _redact(value)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each non-empty secret replaced by REDACTED (longest
    first, so a secret that contains another is replaced whole)."""
    for secret in sorted({s for s in secrets if isinstance(s, str) and s}, key=lambda s: (-len(s), s)):
        text = text.replace(secret, REDACTED)
    return text
