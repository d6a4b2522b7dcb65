"""Child processes for `make run` and end-to-end tests: started in order, watched, stopped in reverse.

Each child writes stdout and stderr to `<log_dir>/<name>.log`, so a failure can be reported with the
lines that explain it. Children run in their own session: Ctrl-C reaches only the parent, which then
stops them in order (the gateway before what it depends on).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack._proc import die_with_parent, with_tail


class ChildError(RuntimeError):
    """A child process died or never became ready; the message carries its log tail."""

    def __init__(self, message: str, child: "Child") -> None:
        super().__init__(message)
        self.child = child


class ChildExited(ChildError):
    """A child exited when it should have kept running."""


class ChildNotReady(ChildError):
    """A child stayed alive but its readiness check never passed."""


@dataclass
class Child:
    """One started child process and where its output goes."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] = field(repr=False)
    log_start: int = 0  # where this run's output begins in the (appended) log
    stopping: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """None while running, else the exit code (negative: killed by that signal)."""
        return self.popen.poll()

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def describe_exit(self) -> str:
        """One line about how it ended plus its log tail."""
        code = self.popen.poll()
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        return with_tail(f"{self.name} {how}", self.log_path, start=self.log_start)


class ProcessGroup:
    """Start named children, detect early exits, stop them all (SIGTERM, then SIGKILL after `grace`)."""

    def __init__(self, log_dir: Path, *, grace: float = 10.0) -> None:
        self.log_dir = Path(log_dir).absolute()
        self.grace = grace
        self.children: list[Child] = []

    def __getitem__(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(name)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        ready: Callable[[], bool] | None = None,
        ready_timeout: float = 30.0,
        cwd: Path | None = None,
    ) -> Child:
        """Start `argv` as child `name`; `env` is laid over our own environment.

        When `ready` is given, poll it (an exception counts as "not yet") until it returns True;
        raise ChildExited if the child dies first, ChildNotReady after `ready_timeout` seconds. The
        child stays registered either way, so stop_all() cleans up.
        """
        if any(child.name == name and not child.stopping for child in self.children):
            raise ValueError(f"a child named {name!r} already exists")
        self.children = [child for child in self.children if child.name != name]  # a stopped one restarts
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        child_env = dict(os.environ)
        child_env.setdefault("PYTHONUNBUFFERED", "1")  # logs appear as they happen
        child_env.update(env or {})
        with open(log_path, "ab") as log:
            log_start = log.tell()
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        child = Child(name=name, argv=list(argv), log_path=log_path, popen=popen, log_start=log_start)
        self.children.append(child)
        if ready is not None:
            self._wait_ready(child, ready, ready_timeout)
        return child

    def _wait_ready(self, child: Child, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "the check returned False"
        while True:
            if not child.is_running():
                raise ChildExited(child.describe_exit() + "\n  (before it was ready)", child)
            try:
                if ready():
                    return
            except Exception as exc:  # noqa: BLE001 - any failure just means "not ready yet"
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise ChildNotReady(
                    with_tail(f"{child.name} not ready after {timeout:.0f}s ({last_error})", child.log_path,
                              start=child.log_start), child)
            time.sleep(0.1)

    def exited(self) -> Child | None:
        """The first child (in start order) that has ended without being asked to, else None."""
        for child in self.children:
            if not child.stopping and not child.is_running():
                return child
        return None

    def check(self) -> None:
        """Raise ChildExited when any child has ended without being asked to."""
        child = self.exited()
        if child is not None:
            raise ChildExited(child.describe_exit(), child)

    def stop(self, name: str) -> int | None:
        """Stop one child: SIGTERM, then SIGKILL to its whole process group after the grace period."""
        child = self[name]
        child.stopping = True
        if child.is_running():
            try:
                child.popen.send_signal(signal.SIGTERM)
                child.popen.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.pid, signal.SIGKILL)  # still unreaped, so the group id is still its
                except ProcessLookupError:
                    pass
                child.popen.wait()
        return child.returncode

    def kill(self, name: str) -> None:
        """SIGKILL one child and its process group at once (fault tests: a crash, not a shutdown)."""
        child = self[name]
        child.stopping = True
        if child.is_running():
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.popen.wait()

    def stop_all(self, *, at_once: bool = False) -> None:
        """Stop every child, the last started first, one after another (each lets the ones it calls finish
        its work); or, `at_once`, SIGTERM to all together and then the same grace for each (a test's
        throwaway system, whose work is done)."""
        if not at_once:
            for child in reversed(self.children):
                self.stop(child.name)
            return
        for child in reversed(self.children):
            child.stopping = True
            if child.is_running():
                with contextlib.suppress(ProcessLookupError):
                    child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in reversed(self.children):
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.popen.wait()

    def __enter__(self) -> "ProcessGroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
