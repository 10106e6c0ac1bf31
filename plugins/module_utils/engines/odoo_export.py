# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Odoo database-manager export (the "zip" backup of /web/database/manager, or `odoo db
dump`): `dump.sql` (plain SQL from pg_dump --no-owner), `filestore/` (the files of
filestore/<database>, without the name), and `manifest.json` (odoo_dump "1", db_name,
version, major_version, pg_version, modules). Checked here before anything is touched."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass

from ..errors import SaasError

DUMP = "dump.sql"
MANIFEST = "manifest.json"


class ExportError(SaasError):
    """The file is not an Odoo export this tenant can take; nothing was touched."""


@dataclass(frozen=True)
class ExportManifest:
    db_name: str
    version: str
    major_version: str
    modules: tuple
    files: int


def read_export(path: str, odoo_version: str, where: str) -> ExportManifest:
    """The export's manifest, after checking it is one and of the tenant's Odoo major version."""
    try:
        with zipfile.ZipFile(path) as export:
            names = set(export.namelist())
            if DUMP not in names or MANIFEST not in names:
                missing = ", ".join(name for name in (DUMP, MANIFEST) if name not in names)
                raise ExportError(f"{where} is not an Odoo database export: it has no {missing} (export it from "
                                  "/web/database/manager with the zip format, filestore included)")
            body = json.loads(export.read(MANIFEST))
            files = sum(1 for name in names if name.startswith("filestore/") and not name.endswith("/"))
    except zipfile.BadZipFile:
        raise ExportError(f"{where} is not a zip file: give the zip that Odoo's database manager exports") from None
    except ValueError as error:
        raise ExportError(f"{where}: manifest.json is unreadable ({error})") from None
    if str(body.get("odoo_dump")) != "1":
        raise ExportError(f"{where}: manifest.json is not an Odoo dump manifest (odoo_dump is {body.get('odoo_dump')!r})")
    major = str(body.get("major_version") or body.get("version") or "")
    wanted = odoo_version.split(".", maxsplit=1)[0]
    if major.removeprefix("saas~").split(".", maxsplit=1)[0] != wanted:
        raise ExportError(f"{where} is an Odoo {major or 'unknown'} database and the tenant runs Odoo {odoo_version}: "
                          "import it into a tenant of that version (upgrading a database is not an import)")
    modules = body.get("modules") or {}
    return ExportManifest(db_name=str(body.get("db_name") or ""), version=str(body.get("version") or ""),
                          major_version=major, modules=tuple(sorted(modules)), files=files)


def extract_dump(path: str, target: str) -> None:
    with zipfile.ZipFile(path) as export, export.open(DUMP) as source, open(target, "wb") as sink:
        while True:
            chunk = source.read(1024 * 1024)
            if not chunk:
                break
            sink.write(chunk)
