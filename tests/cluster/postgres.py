"""Debian's PostgreSQL server, one cluster per platform database server, on loopback ports.

`saas-system` holds the tenant ledger; `postgres-shared-1` and `postgres-shared-2` stand for
the shared tenant servers. Each is its own cluster (data directory, port, superuser
password) on 127.0.0.1 only, run as the `postgres` system user because PostgreSQL refuses to
run as root. Their pg_hba.conf and settings are the roles' own (server_config.py), rewritten
at every start.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import server_config, settings
from .progress import step

SUPERUSER = "postgres"
SYSTEM_USER = "postgres"


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    definition: server_config.Definition = server_config.SHARED

    @property
    def root(self) -> Path:
        """Where the cluster's data and log live (see data_root)."""
        return data_root()

    @property
    def data(self) -> Path:
        return self.root / self.name

    @property
    def password_file(self) -> Path:
        """The superuser's password, readable by root only (the inventory reads it)."""
        return settings.state_dir() / "postgres" / f"{self.name}.password"

    @property
    def log_file(self) -> Path:
        return self.root / f"{self.name}.log"

    def password(self) -> str:
        return self.password_file.read_text().strip()


SERVERS = (
    Server("saas-system", settings.PORTS.postgres_ledger, server_config.LEDGER),
    Server("postgres-shared-1", settings.PORTS.postgres_shared_1, server_config.SHARED),
    Server("postgres-shared-2", settings.PORTS.postgres_shared_2, server_config.SHARED),
)


def bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise SystemExit("PostgreSQL server binaries not found: run `make setup` (installs Debian's postgresql).")
    return Path(candidates[-1]).parent


def _as_postgres(argv: list[str], check: bool = False, capture_output: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", SYSTEM_USER, "--", *argv], text=True, check=check,
                          capture_output=capture_output)


def _reachable_by_postgres(path: Path) -> bool:
    return _as_postgres(["test", "-x", str(path)]).returncode == 0


def data_root() -> Path:
    """The clusters' data directory: `.local/postgres-data` in the clone, unless the
    `postgres` system user cannot reach into the clone (a checkout under a private
    directory); then a directory under /var/tmp named after the clone's state path."""
    state = settings.state_dir()
    preferred = state / "postgres-data"
    pointer = state / "postgres-data.location"
    if pointer.exists():
        return Path(pointer.read_text().strip())
    state.mkdir(parents=True, exist_ok=True)
    if _reachable_by_postgres(state):
        chosen = preferred
    else:
        digest = hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]
        chosen = Path("/var/tmp/odoo-saas-kit") / digest / "postgres-data"
        step("up", f"the postgres user cannot reach {state}; PostgreSQL data goes to {chosen}")
    pointer.write_text(f"{chosen}\n")
    return chosen


def _init(server: Server) -> None:
    pg = pwd.getpwnam(SYSTEM_USER)
    server.root.mkdir(parents=True, exist_ok=True)
    os.chown(server.root, 0, pg.pw_gid)
    server.root.chmod(0o750)
    server.password_file.parent.mkdir(mode=0o700, exist_ok=True)
    if not server.password_file.exists():
        server.password_file.write_text(secrets.token_urlsafe(24) + "\n")
        server.password_file.chmod(0o600)
    if server.data.exists():
        shutil.rmtree(server.data)  # a half-made cluster from an interrupted init
    staging = server.root / f".{server.name}.initdb"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    os.chown(staging, pg.pw_uid, pg.pw_gid)
    pwfile = staging / "pwfile"
    pwfile.write_text(server.password() + "\n")
    os.chown(pwfile, pg.pw_uid, pg.pw_gid)
    pwfile.chmod(0o600)
    data = staging / "data"
    result = _as_postgres(
        [str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}",
         "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
    )
    pwfile.unlink()
    if result.returncode != 0:
        raise SystemExit(f"initdb for {server.name} failed:\n{result.stdout}\n{result.stderr}")
    _configure(server, data)
    data.rename(server.data)
    staging.rmdir()


def _configure(server: Server, data: Path) -> bool:
    """The role's pg_hba.conf and settings into the data directory (server_config); True when
    they changed."""
    conf = data / "postgresql.conf"
    include = f"include = '{server_config.SETTINGS_FILE}'"
    if include not in conf.read_text():
        with open(conf, "a") as handle:
            handle.write(f"\n# odoo-saas-kit: the role's settings (tests/cluster/server_config.py)\n{include}\n")
    changed = server_config.write(server.definition, server.port, data)
    pg = pwd.getpwnam(SYSTEM_USER)
    for name in ("pg_hba.conf", server_config.SETTINGS_FILE):
        os.chown(data / name, pg.pw_uid, pg.pw_gid)
    return changed


def running(server: Server) -> bool:
    if not (server.data / "postmaster.pid").exists():
        return False
    result = _as_postgres([str(bin_dir() / "pg_ctl"), "-D", str(server.data), "status"])
    return result.returncode == 0


def start() -> None:
    for server in SERVERS:
        start_server(server)


def start_server(server: Server) -> None:
    """Initialise (once) and start one cluster; a no-op when it runs."""
    # Data without this clone's password file is a leftover of an earlier clone at the same
    # path (the /var/tmp fallback outlives clones): start that cluster afresh.
    if not (server.data / "PG_VERSION").exists() or not server.password_file.exists():
        if running(server):
            _as_postgres([str(bin_dir() / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "-w", "stop"])
        step("up", f"initialising PostgreSQL cluster {server.name} (port {server.port})")
        _init(server)
    reconfigured = _configure(server, server.data)
    if running(server):
        if not reconfigured:
            step("up", f"PostgreSQL {server.name} already running on 127.0.0.1:{server.port}")
            return
        step("up", f"PostgreSQL {server.name}: its role's pg_hba.conf or settings changed, restarting")
        stop_server(server)
    server.log_file.touch()
    pg = pwd.getpwnam(SYSTEM_USER)
    os.chown(server.log_file, pg.pw_uid, pg.pw_gid)
    result = _as_postgres(
        [str(bin_dir() / "pg_ctl"), "-D", str(server.data), "-l", str(server.log_file), "-w", "-t", "60", "start"],
    )
    if result.returncode != 0:
        tail = server.log_file.read_text(errors="replace")[-2000:] if server.log_file.exists() else ""
        raise SystemExit(f"PostgreSQL {server.name} did not start on port {server.port}:\n{result.stderr}\n{tail}")
    step("up", f"PostgreSQL {server.name} ready on 127.0.0.1:{server.port}")


def stop() -> None:
    for server in SERVERS:
        stop_server(server)


def stop_server(server: Server, mode: str = "fast") -> None:
    """Stop one cluster (pg_ctl's shutdown mode: fast, or immediate for a crash-like stop)."""
    if running(server):
        _as_postgres(
            [str(bin_dir() / "pg_ctl"), "-D", str(server.data), "-m", mode, "-w", "-t", "60", "stop"],
        )
        step("down", f"stopped PostgreSQL {server.name}")


def status() -> dict[str, bool]:
    return {server.name: running(server) for server in SERVERS}
