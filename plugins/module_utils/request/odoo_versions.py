# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Odoo versions the kit deploys, and what differs between their official images: the one
source for the modules' choices, the request's validation and the manifests."""

from __future__ import annotations

# (uid, gid) of the `odoo` user of the official image per Odoo version: the Debian package's
# postinst creates it with `adduser --system --group`, which takes the first free system ids
# (from 100) of the image's base. 16.0 is on debian:bullseye-slim and 17.0 on ubuntu:jammy,
# where _apt already holds uid 100 and the group `users` gid 100: odoo is 101:101 (reported
# by users for odoo:17; 16.0 is inferred from its base image, not observed). 18.0 and 19.0
# are on ubuntu:noble, whose _apt has the static uid 42: odoo is 100:101 (reported for both).
ODOO_USER_IDS = {
    "16.0": (101, 101),
    "17.0": (101, 101),
    "18.0": (100, 101),
    "19.0": (100, 101),
}
ODOO_VERSIONS = tuple(ODOO_USER_IDS)
DEFAULT_ODOO_VERSION = "18.0"
