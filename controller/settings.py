"""The controller's settings: the platform's module parameters (the same dict the playbooks
pass as `odoo_saas_module_defaults`, written to a file by the role that deploys it), and the
environment switches of the platform guide.

- SAAS_CONTROLLER_CONFIG: path of that JSON file (required).
- FLASK_ENV=development selects the `saas-dev` namespace, otherwise `saas-system`, where the
  file names no platform_namespace; a development controller refuses a prod inventory.
- DOMAIN_NAME: the base domain, over the file's.
- SAAS_LEDGER_PASSWORD: the ledger's password, over the file's (from a Secret).
- SAAS_CONTROLLER_WORKERS: operations run at once (default 2, at most 16).
- SAAS_WEBHOOK_RETRY_SECONDS: the first wait before a failed webhook delivery is sent again
  (default 10; it doubles per attempt, up to an hour).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError, shown
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.spec import load_platform

MAX_WORKERS = 16


@dataclass(frozen=True)
class Settings:
    config: dict
    platform: object
    workers: int
    development: bool
    webhook_retry_seconds: float = 10.0


def load(environ=None):
    environ = os.environ if environ is None else environ
    path = environ.get("SAAS_CONTROLLER_CONFIG")
    if not path:
        raise SpecError("SAAS_CONTROLLER_CONFIG", "is required: the path of the platform's module parameters (JSON)")
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        raise SpecError("SAAS_CONTROLLER_CONFIG", f"cannot read {path}: {error}") from None
    if not isinstance(config, dict):
        raise SpecError("SAAS_CONTROLLER_CONFIG", f"{path} must hold a JSON object of module parameters")
    development = environ.get("FLASK_ENV") == "development"
    config.setdefault("platform_namespace", "saas-dev" if development else "saas-system")
    if development and config.get("environment") == "prod":
        raise SpecError("FLASK_ENV", "is 'development' but the platform's environment is 'prod': unset FLASK_ENV "
                                     "for a production controller")
    if environ.get("DOMAIN_NAME"):
        config["base_domain"] = environ["DOMAIN_NAME"]
    if environ.get("SAAS_LEDGER_PASSWORD") and isinstance(config.get("ledger"), dict):
        config["ledger"] = {**config["ledger"], "password": environ["SAAS_LEDGER_PASSWORD"]}
    raw_workers = environ.get("SAAS_CONTROLLER_WORKERS", "2")
    if not raw_workers.isascii() or not raw_workers.isdigit() or not 1 <= int(raw_workers) <= MAX_WORKERS:
        raise SpecError("SAAS_CONTROLLER_WORKERS", f"must be a whole number from 1 to {MAX_WORKERS}, got {shown(raw_workers)}")
    raw_retry = environ.get("SAAS_WEBHOOK_RETRY_SECONDS", "10")
    try:
        retry = float(raw_retry)
    except ValueError:
        retry = -1.0
    if not 0.1 <= retry <= 3600:
        raise SpecError("SAAS_WEBHOOK_RETRY_SECONDS", f"must be a number of seconds from 0.1 to 3600, got {shown(raw_retry)}")
    return Settings(config=config, platform=load_platform(config), workers=int(raw_workers), development=development,
                    webhook_retry_seconds=retry)
