"""The local PostgreSQL servers' pg_hba.conf and settings, from the roles' own definitions.

Production's shared servers (roles/postgres_shared) and ledger (roles/saas_system) get their
pg_hba.conf from a template and their settings from a role variable. The local servers render
that same template with the same variables and run with the same settings, so a local test is
refused exactly where production would be. What differs locally is only how a server is
reached and how durable it is (LOCAL_ONLY): loopback, its own port, no Unix socket, no fsync;
TLS is not served locally (remote superuser logins, the only ones that need it, come over
127.0.0.1 here, which the templates admit without TLS as in the pod).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml
from ansible.plugins.filter.core import FilterModule

from . import settings

ROLES = settings.REPO / "roles"
LOCAL_INVENTORY = settings.REPO / "inventories" / "local" / "group_vars" / "all"


@dataclass(frozen=True)
class Definition:
    """Where one kind of server is defined: its role, its pg_hba template, its settings variable."""

    role: str
    hba_template: str
    settings_variable: str


SHARED = Definition("postgres_shared", "pg_hba.conf.j2", "postgres_shared_settings")
LEDGER = Definition("saas_system", "ledger-pg_hba.conf.j2", "saas_system_ledger_settings")

# How the local platform runs a server, which production sets otherwise (the pod's network,
# its volume): never a setting that decides what a client may do.
LOCAL_ONLY = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    # a throwaway test server: durability traded for speed
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def _variables(role: str) -> dict:
    """The role's defaults, overridden by the local inventory where it sets the same names."""
    values = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    for path in sorted(LOCAL_INVENTORY.glob("*.yml")):
        local = yaml.safe_load(path.read_text()) or {}
        values.update({key: value for key, value in local.items() if key in values})
    return values


def _environment(role: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLES / role / "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True)  # as Ansible's template lookup renders
    env.filters.update(FilterModule().filters())  # Ansible's own filters (bool, to_json, ...)
    return env


def hba(definition: Definition, overrides: dict | None = None) -> str:
    """pg_hba.conf as the role renders it (overrides: variables set otherwise, e.g. TLS off)."""
    variables = {**_variables(definition.role), **(overrides or {})}
    return _environment(definition.role).get_template(definition.hba_template).render(**variables)


def server_settings(definition: Definition, port: int) -> dict[str, str]:
    """The role's PostgreSQL settings, then the local platform's own (address, port, durability)."""
    wanted = {str(key): str(value) for key, value in _variables(definition.role)[definition.settings_variable].items()}
    clash = sorted(set(wanted) & (set(LOCAL_ONLY) | {"port"}))
    if clash:
        raise SystemExit(f"{definition.role}'s {definition.settings_variable} sets {', '.join(clash)}, which the local "
                         "platform decides itself (tests/cluster/server_config.py LOCAL_ONLY)")
    return {**wanted, **LOCAL_ONLY, "port": str(port)}


def postgresql_conf(definition: Definition, port: int) -> str:
    lines = [f"# Written by tests/cluster from roles/{definition.role} ({definition.settings_variable}); "
             "rewritten at every start."]
    for key, value in server_settings(definition, port).items():
        quoted = value.replace("'", "''")
        lines.append(f"{key} = '{quoted}'")
    return "\n".join(lines) + "\n"


def write(definition: Definition, port: int, data: Path) -> bool:
    """Write the server's pg_hba.conf and settings file into its data directory; True when
    either changed (a running server must then restart to take them)."""
    changed = False
    for name, text in (("pg_hba.conf", hba(definition)), (SETTINGS_FILE, postgresql_conf(definition, port))):
        path = data / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed = True
    return changed


# Included from postgresql.conf (written once by initdb; the include line added at init).
SETTINGS_FILE = "odoo-saas-kit.conf"
