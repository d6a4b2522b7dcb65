"""CPU time of process trees from /proc (Linux): user + system time of a process, of every live process
under it, and of the children they have already reaped (cutime + cstime), so that a gunicorn worker or a
Postgres backend that ends between two readings is still counted (its parent adds it when it reaps it).

    before = snapshot(roots)          # {role: root pid}
    ...
    after = snapshot(roots)
    per_event_ms(before, after, events)  # {role: CPU ms per event, ..., "total": ...}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

TICK = os.sysconf("SC_CLK_TCK")
TOTAL = "total"


class ProcStat(NamedTuple):
    ppid: int
    own: int  # utime + stime, clock ticks
    reaped: int  # cutime + cstime: children that have ended and been waited for


def parse_stat(text: str) -> ProcStat:
    """The fields of one /proc/<pid>/stat line we need; the command name may hold spaces and ')'."""
    fields = text[text.rindex(")") + 2:].split()
    # after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return ProcStat(int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))


def read_table(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    """Every live process: pid -> ProcStat (processes that end while being read are skipped)."""
    table = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                table[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
    return table


def tree_ticks(root: int, table: Mapping[int, ProcStat]) -> int:
    """Clock ticks of `root` and every live descendant, each with what it has reaped; 0 when `root` is
    gone."""
    if root not in table:
        return 0
    kids: dict[int, list[int]] = {}
    for pid, st in table.items():
        kids.setdefault(st.ppid, []).append(pid)
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += table[pid].own + table[pid].reaped
        todo += kids.get(pid, ())
    return total


def snapshot(roots: Mapping[str, int | list[int]], table: Mapping[int, ProcStat] | None = None,
             *, alone: tuple[str, ...] = ()) -> dict[str, int]:
    """Ticks per role; a role may have several roots (processor replicas); one /proc read for all. The
    roles in `alone` count their own processes only, not what runs under them (the bench's own process,
    parent of everything it started)."""
    table = read_table() if table is None else table
    out = {}
    for role, pids in roots.items():
        pids = [pids] if isinstance(pids, int) else pids
        if role in alone:
            out[role] = sum(table[pid].own for pid in pids if pid in table)
        else:
            out[role] = sum(tree_ticks(pid, table) for pid in pids)
    return out


def per_event_ms(before: Mapping[str, int], after: Mapping[str, int], events: int,
                 *, excluded: tuple[str, ...] = ()) -> dict[str, float]:
    """CPU milliseconds per event of each role between two snapshots, and their total (without the
    `excluded` roles, e.g. the load generator, reported beside it). A role missing from either snapshot
    counts 0."""
    if events <= 0:
        return {**{role: 0.0 for role in after}, TOTAL: 0.0}
    ms = {role: 1000 * max(0, after[role] - before.get(role, after[role])) / TICK / events for role in after}
    out = {role: round(v, 3) for role, v in ms.items()}
    out[TOTAL] = round(sum(v for role, v in ms.items() if role not in excluded), 3)
    return out
