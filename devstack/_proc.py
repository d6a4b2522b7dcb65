"""Small process helpers shared by the local servers and the process group."""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn that makes the child get `sig` when we die, so a killed `make run` leaves no orphans.

    Linux only (prctl); elsewhere None. The signal fires when the *thread* that started the child ends,
    so start children from a long-lived thread (the main thread in practice).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved now, not in the forked child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def _preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return _preexec


def become_subreaper() -> bool:
    """Make orphaned descendants our children (Linux), so we can reap them ourselves.

    Used before killing a process whose own children will be orphaned: where PID 1 does not reap
    (some containers), they would otherwise stay zombies. True when it worked.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def tail(path: Path, lines: int = 30, start: int = 0) -> str:
    """The last lines of a log file after byte `start`, for error messages; empty when there is none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(start, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def with_tail(message: str, log: Path, lines: int = 30, start: int = 0) -> str:
    """`message` followed by the tail of `log` (after byte `start`), indented, for errors a developer
    can act on."""
    body = tail(log, lines, start)
    if not body:
        return f"{message} (log {log} is empty)"
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"{message}\n  last lines of {log}:\n{indented}"


class DirInUse(RuntimeError):
    """Another live process is using this data directory (another `make run`?)."""


class DirLock:
    """An exclusive flock on `<directory>/.devstack.lock`, held while we own a server's data.

    The kernel drops it when we die, so a server found running on an unlocked directory is a stale
    leftover we may stop, while a locked one belongs to a live session we must not touch.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / ".devstack.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DirInUse(f"{self.path.parent} is in use by another process (another `make run`?)") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def start_holding(self, start: Callable[[], None], undo: Callable[[], None]) -> None:
        """Take the lock and run `start`; if it fails, run `undo` (no half-started server is left) and
        let the lock go again, so a later start can retry."""
        self.acquire()
        try:
            start()
        except BaseException:
            undo()
            self.release()
            raise
