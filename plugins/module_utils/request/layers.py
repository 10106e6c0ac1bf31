# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the layered settings of a project checkout live.

Settings come in three layers, lowest first: the project's top-level ``group_vars/`` (base
settings every environment shares), ``inventories/<env>/group_vars/`` (the environment), and
a git-ignored ``.env`` file of ``ODOO_SAAS_*`` overrides for one machine.
"""

from __future__ import annotations

import io
import os
import re

try:
    from dotenv.parser import parse_stream
except ImportError:  # reported when a .env file is read
    parse_stream = None

ENV_FILE_VARIABLE = "ODOO_SAAS_ENV_FILE"
OVERRIDE_PREFIX = "ODOO_SAAS_"
KEY = re.compile(r"^[A-Za-z0-9_]+\Z")


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
    """Parse a .env file (python-dotenv's grammar: comments, ``export``, quotes, escapes); keep
    ODOO_SAAS_* keys as lower-case variable names.

    Returns (overrides, ignored_keys) with raw string values. A line that is not KEY=VALUE
    (python-dotenv would skip it with a warning) is an error naming the file and the line.
    """
    if parse_stream is None:
        raise ValueError(f"{source}: reading it needs the Python package python-dotenv on the controller "
                         "(pip install -r requirements.txt)")
    overrides = {}
    ignored = []
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        # A binding starts with the blank lines before it; the line it is about comes after them.
        number = binding.original.line + raw[:len(raw) - len(raw.lstrip())].count("\n")
        malformed = binding.error or (binding.key is not None and (binding.value is None or not KEY.match(binding.key)))
        if malformed:
            raise ValueError(f"{source}:{number}: expected KEY=VALUE, got {raw.strip().splitlines()[0]!r}")
        if binding.key is None:
            continue  # a comment or blank lines
        if binding.key.startswith(OVERRIDE_PREFIX):
            overrides[binding.key.lower()] = binding.value
        else:
            ignored.append(binding.key)
    return overrides, ignored
