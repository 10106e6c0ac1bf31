"""A throwaway PostgreSQL cluster on a free loopback port, made and run like the platform's own
(tests/cluster/postgres.py: initdb as the postgres user, SCRAM over 127.0.0.1), for fault tests
that stop and restart a server without disturbing the shared ones."""

from __future__ import annotations

import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.cluster import postgres


@dataclass(frozen=True)
class ScratchServer(postgres.Server):
    base: Path = None

    @property
    def root(self) -> Path:
        return self.base

    @property
    def password_file(self) -> Path:
        return self.base / f"{self.name}.password"

    def start(self):
        postgres.start_server(self)

    def stop(self, mode="immediate"):
        """Immediate by default: the server goes away as in a crash, sessions cut off."""
        postgres.stop_server(self, mode)

    def running(self):
        return postgres.running(self)

    def remove(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def shared_server(self):
        """The module's shared_servers entry for this server."""
        return {"name": self.name, "host": "127.0.0.1", "port": self.port, "admin_user": postgres.SUPERUSER,
                "admin_password": self.password(), "sslmode": "prefer"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_scratch(prefix="postgres-scratch"):
    """A started scratch cluster (named like a shared server's namespace); remove() it after."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    # Beside the platform's clusters, where the postgres user can reach.
    server = ScratchServer(name, free_port(), base=postgres.data_root().parent / f"scratch-{name}")
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
