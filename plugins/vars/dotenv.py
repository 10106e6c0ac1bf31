# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: dotenv
short_description: Apply this machine's ODOO_SAAS_* overrides from a git-ignored .env file
description:
  - Reads C(<project>/.env) (or the file named by the C(ODOO_SAAS_ENV_FILE) environment
    variable) of the project checkout that holds the inventory.
  - Each C(ODOO_SAAS_NAME=value) line sets the variable C(odoo_saas_name) on every host, so
    it overrides both the base and the environment's group_vars. Values are read as YAML
    scalars (C(true), C(50) and C(a.example) become a boolean, a number and a string).
  - Keys without the C(ODOO_SAAS_) prefix are left to the shell (for example the Makefile).
  - Lines follow python-dotenv's grammar (comments, C(export), single and double quotes with
    escapes); a line that is not C(KEY=VALUE) fails the run naming the file and the line.
requirements:
  - python-dotenv (requirements.txt)
options:
  stage:
    description: When to run; see the C(vars_plugin_staging) fragment.
    default: inventory
    choices: [all, task, inventory]
    type: str
    ini:
      - key: stage
        section: odoo_saas.kit.dotenv
    env:
      - name: ODOO_SAAS_DOTENV_STAGE
"""

import os

import yaml
from ansible.errors import AnsibleParserError
from ansible.inventory.host import Host
from ansible.plugins.vars import BaseVarsPlugin
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.layers import env_file, parse_env_file, project_root


class VarsModule(BaseVarsPlugin):
    is_stateless = True

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        root = project_root(path)
        if root is None:
            return {}
        source = env_file(root)
        if not os.path.isfile(source):
            return {}
        if not any(isinstance(e, Host) for e in (entities if isinstance(entities, list) else [entities])):
            return {}
        with open(source, encoding="utf-8") as handle:
            try:
                raw, _ignored = parse_env_file(handle.read(), source)
            except ValueError as error:
                raise AnsibleParserError(str(error)) from error
        return {key: _scalar(value) for key, value in raw.items()}


def _scalar(value):
    try:
        loaded = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        return value
    return loaded if isinstance(loaded, (str, int, float, bool)) or loaded is None else value
