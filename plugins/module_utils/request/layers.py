# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the layered settings of a project checkout live.

Settings come in three layers, lowest first: the project's top-level ``group_vars/`` (base
settings every environment shares), ``inventories/<env>/group_vars/`` (the environment), and
a git-ignored ``.env`` file of ``ODOO_SAAS_*`` overrides for one machine.
"""

from __future__ import annotations

import os

ENV_FILE_VARIABLE = "ODOO_SAAS_ENV_FILE"
OVERRIDE_PREFIX = "ODOO_SAAS_"


def project_root(inventory_dir):
    """The project checkout that holds an inventory directory, or None.

    The project root is the nearest ancestor of the inventory directory that has an
    ``inventories`` directory (so ``<root>/inventories/<env>/hosts.yml`` resolves to root).
    """
    current = os.path.abspath(inventory_dir)
    while True:
        parent = os.path.dirname(current)
        if parent == current:
            return None
        if os.path.isdir(os.path.join(parent, "inventories")) and os.path.basename(current) == "inventories":
            return parent
        current = parent


def env_file(root):
    return os.environ.get(ENV_FILE_VARIABLE) or os.path.join(root, ".env")


def parse_env_file(text, source="<.env>"):
    """Parse KEY=VALUE lines; keep ODOO_SAAS_* keys as lower-case variable names.

    Returns (overrides, ignored_keys) with raw string values; blank lines and ``#`` comments
    are skipped, an optional ``export`` prefix and matching surrounding quotes are removed.
    """
    overrides = {}
    ignored = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise ValueError(f"{source}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.startswith(OVERRIDE_PREFIX):
            overrides[key.lower()] = value
        else:
            ignored.append(key)
    return overrides, ignored
