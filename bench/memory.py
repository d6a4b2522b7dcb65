"""Peak resident memory (VmHWM, Linux) of every process of the system, sampled in a background thread:
each child of the ProcessGroup and its descendants (gunicorn's workers), keyed by role."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil

from devstack.processes import ProcessGroup


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class PeakMemory:
    """Poll every `interval` seconds; `peaks()` maps a role to the highest VmHWM of any of its processes."""

    def __init__(self, group: ProcessGroup, roles: dict[str, str], interval: float = 0.5) -> None:
        self.group = group
        self.roles = roles  # child name -> role (e.g. "processor-2" -> "processor")
        self.interval = interval
        self._peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "PeakMemory":
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.sample()
        return self.peaks()

    def peaks(self) -> dict[str, float]:
        return {role: round(mb, 1) for role, mb in sorted(self._peaks.items())}

    def _note(self, role: str, pid: int) -> None:
        mb = vm_hwm_mb(pid)
        if mb is not None and mb > self._peaks.get(role, 0.0):
            self._peaks[role] = mb

    def sample(self) -> None:
        for child in list(self.group.children):
            role = self.roles.get(child.name)
            if role is None or not child.is_running():
                continue
            self._note(role, child.pid)
            if role == "gateway_master":  # gunicorn: the master (above) and each worker
                try:
                    for worker in psutil.Process(child.pid).children():
                        self._note("gateway_worker", worker.pid)
                except psutil.Error:
                    pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
