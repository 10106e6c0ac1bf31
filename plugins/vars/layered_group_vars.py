# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: layered_group_vars
short_description: group_vars/ and host_vars/ of the inventory, over the project's base group_vars/
description:
  - Does what C(ansible.builtin.host_group_vars) does (load C(group_vars/) and C(host_vars/)
    beside the inventory), and first loads the project's top-level C(group_vars/) and
    C(host_vars/) as a base layer below them.
  - The project is the checkout that holds the inventory
    (C(<project>/inventories/<env>/hosts.yml) gives C(<project>/group_vars/)), so every
    environment shares the base settings and overrides only what differs.
  - Use it instead of C(host_group_vars) in C(vars_plugins_enabled); the order of vars plugins
    does not then decide which layer wins.
  - Inventories outside a project checkout behave exactly as with C(host_group_vars).
extends_documentation_fragment:
  - ansible.builtin.vars_plugin_staging
"""

import os

from ansible.inventory.group import Group
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.vars import combine_vars
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.layers import project_root


class VarsModule(BaseVarsPlugin):
    is_stateless = True

    def _load(self, loader, directory, entity):
        """Vars for one host or group from `<directory>/{group_vars,host_vars}/<name>*`."""
        if entity.name.startswith(os.path.sep):
            return {}  # chroot-style host names are paths, not names
        subdir = os.path.join(directory, "group_vars" if isinstance(entity, Group) else "host_vars")
        if not os.path.isdir(subdir):
            return {}
        data = {}
        for found in loader.find_vars_files(subdir, entity.name):
            loaded = loader.load_from_file(found, cache="all", unsafe=True, trusted_as_template=True)
            if loaded:
                data = combine_vars(data, loaded)
        return data

    def get_vars(self, loader, path, entities, cache=True):
        super().get_vars(loader, path, entities)
        inventory_dir = os.path.realpath(path)
        if os.path.isdir(os.path.join(inventory_dir, "inventories")):
            # The project root itself (e.g. the playbook directory of `ansible-inventory` run
            # there): its group_vars/ are every inventory's base layer, never a layer above.
            return {}
        root = project_root(inventory_dir)
        layers = [inventory_dir] if root is None or root == inventory_dir else [root, inventory_dir]
        data = {}
        for entity in entities if isinstance(entities, list) else [entities]:
            for directory in layers:
                data = combine_vars(data, self._load(loader, directory, entity))
        return data
