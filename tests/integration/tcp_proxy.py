"""A loopback TCP proxy that a fault test can cut and restore: in front of the API server (TLS
passes through untouched, so the kubeconfig's certificates still work) or a PostgreSQL server.

cut() closes the listening socket (new connections are refused, as by a stopped server) and
every open connection (as by a server that went away); restore() listens again on the same port.
While cut, the port stays bound without listening (connections are still refused), so that no
other test running beside this one is handed it as a free port.
cut_after(n) cuts by itself once clients have sent n more bytes through it (a store that goes
away in the middle of an upload).
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import yaml


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = None
        self.cuts = 0
        self.sent = 0  # bytes clients sent upstream
        self._cut_at = None
        self._listener = None
        self._reserved = None  # while cut: the port, bound but not listening
        self._open = set()
        self._lock = threading.Lock()
        self.restore()

    @property
    def listening(self):
        return self._listener is not None

    def restore(self):
        """Listen (again) on the proxy's port."""
        reserved, self._reserved = self._reserved, None
        if reserved is not None:
            reserved.close()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        """Refuse new connections and close the open ones."""
        self.cuts += 1
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
            self._reserved = _bound(self.port)
        with self._lock:
            connections, self._open = self._open, set()
        for sock in connections:
            _close(sock)

    def close(self):
        self.cut()
        reserved, self._reserved = self._reserved, None
        if reserved is not None:
            reserved.close()

    def cut_after(self, count):
        """Cut once clients have sent `count` more bytes upstream."""
        with self._lock:
            self._cut_at = self.sent + count

    def _count(self, size):
        with self._lock:
            self.sent += size
            due = self._cut_at is not None and self.sent >= self._cut_at
            if due:
                self._cut_at = None
        if due:
            self.cut()

    def _accept(self, listener):
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open.update((client, upstream))
            for source, sink, upstream_bound in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, upstream_bound), daemon=True).start()

    def _pump(self, source, sink, upstream_bound=False):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
                if upstream_bound:
                    self._count(len(data))
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)

    def kubeconfig(self, original, directory):
        """A copy of the kubeconfig `original` whose cluster is reached through this proxy."""
        config = yaml.safe_load(Path(original).read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path = Path(directory) / "kubeconfig-through-proxy"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return str(path)


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _bound(port):
    """A socket bound to the port without listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock
