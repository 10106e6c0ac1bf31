"""Background daemons with pid files: start once, find again, stop without leftovers."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .progress import step


class Daemon:
    """One long-running process, identified by its pid file and its executable."""

    def __init__(self, name: str, run_dir: Path, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.env = env
        self.pid_file = run_dir / f"{name}.pid"
        self.log_file = run_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return None
        # Guard against a recycled pid: the process must still run our executable.
        if not cmdline or os.path.basename(cmdline[0].decode()) != os.path.basename(self.argv[0]):
            return None
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def exited(self) -> bool:
        """True once a process this object started has ended (or, for one found by its pid
        file, once it no longer runs). Right after the fork the child's command line is still
        Python's, so a just-started process is judged by its Popen handle."""
        if self.process is not None:
            return self.process.poll() is not None
        return not self.running()

    def start(self) -> bool:
        """Start unless already running; returns True when it started a process."""
        if self.running():
            return False
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.process = process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                close_fds=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return True

    def stop(self, timeout: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            step("stop", f"{self.name} did not stop on SIGTERM within {timeout:.0f}s; killing it")
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while self.pid() is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def wait_until(what: str, check: Callable[[], bool], timeout: float, daemon: Daemon | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon is not None and daemon.exited():
            raise SystemExit(
                f"{daemon.name} exited while waiting for {what}. Last lines of {daemon.log_file}:\n"
                f"{daemon.log_tail()}"
            )
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure here just means "not yet"
            pass
        time.sleep(0.3)
    hint = f" See {daemon.log_file}:\n{daemon.log_tail()}" if daemon else ""
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}.{hint}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def https_ok(url: str, ca: Path | None, cert: Path | None = None, key: Path | None = None) -> bool:
    """GET url; True on 200. With ca=None the server's certificate is not verified (for the
    self-signed serving certificates that controllers generate for their health ports)."""
    if ca is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=str(ca))
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
