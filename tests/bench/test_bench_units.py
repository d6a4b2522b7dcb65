"""The bench's pure parts: the rate search and a step's verdict (bench/whole_system.py), CPU accounting
from /proc (bench/cpu.py), the PASS/FAIL lines and table (bench/harness.py), and the paced open-loop load
generator (bench/loadgen.py) against a tiny local server. No system is started."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from bench import cpu, harness, loadgen
from bench.whole_system import RateSearch, step_failures

# -- the rate search ----------------------------------------------------------------------------------


def drive(search: RateSearch, capacity: float) -> list[float]:
    """Run the search against a system that sustains every rate up to `capacity`."""
    rates = []
    while (rate := search.next_rate()) is not None:
        rates.append(rate)
        search.record(rate, rate <= capacity)
        assert len(rates) < 50
    return rates


def test_ramp_doubles_then_bisects_between_best_and_lowest_failed():
    search = RateSearch(200, 3200, bisections=3)
    assert drive(search, 1000) == [200, 400, 800, 1600, 1200, 1000, 1100]
    assert search.best == 1000
    assert search.lowest_failed == 1100


def test_ramp_stops_at_the_ceiling_when_everything_sustains():
    search = RateSearch(200, 1000, bisections=3)
    assert drive(search, 10_000) == [200, 400, 800, 1000]
    assert search.best == 1000


def test_ramp_goes_down_when_the_first_rate_fails_and_gives_up_at_the_floor():
    search = RateSearch(200, 3200, floor=25, bisections=1)
    assert drive(search, 60) == [200, 100, 50, 75]
    assert search.best == 50
    nothing = RateSearch(200, 3200, floor=25)
    assert drive(nothing, 0) == [200, 100, 50, 25]
    assert nothing.best is None


def test_bisection_stops_within_the_resolution():
    search = RateSearch(200, 3200, bisections=10, resolution=0.05)
    rates = drive(search, 437)
    assert search.best is not None and search.lowest_failed is not None
    assert search.lowest_failed <= search.best * 1.05
    assert 415 <= search.best <= 437
    assert len(rates) <= 10


def test_a_noisy_failure_below_the_best_does_not_bisect_downwards():
    search = RateSearch(200, 3200, bisections=2)
    search.record(200, True)
    search.record(400, False)
    search.record(300, True)
    search.record(350, True)  # bisections spent: done
    assert search.next_rate() is None
    noisy = RateSearch(200, 800)
    noisy.record(200, False)
    noisy.record(100, True)
    noisy.record(150, True)  # between 150 (sustained) and 200 (failed): bisect
    assert noisy.lowest_failed == 200
    assert 150 < noisy.next_rate() < 200
    noisy.record(400, True)  # a higher rate sustained after all: ramp on from there
    assert noisy.lowest_failed is None
    assert noisy.next_rate() == 800


# -- a step's verdict -------------------------------------------------------------------------------

GOOD = dict(sent=1000, answered=1000, accepted=1000, errors=0, send_rate=995.0, samples=100,
            assigned_p99_ms=480.0, unassigned=0)


def test_a_step_sustains_when_every_condition_holds():
    assert step_failures(1000, **GOOD) == []


@pytest.mark.parametrize("change, words", [
    ({"accepted": 990}, "not 202"),
    ({"answered": 999, "accepted": 999}, "unanswered"),
    ({"errors": 1}, "connection errors"),
    ({"send_rate": 960.0}, "below 970/s"),
    ({"assigned_p99_ms": 501.0}, "p99 202->assigned 501 ms > 500 ms"),
    ({"samples": 0}, "no 202->assigned sample"),
    ({"unassigned": 3}, "3 codes unassigned"),
    ({"sent": 0}, "nothing sent"),
])
def test_a_step_fails_on_each_condition(change, words):
    reasons = step_failures(1000, **{**GOOD, **change})
    assert reasons and any(words in r for r in reasons), reasons


def test_the_send_rate_tolerance_is_a_few_percent():
    assert step_failures(1000, **{**GOOD, "send_rate": 971.0}) == []
    assert step_failures(1000, **{**GOOD, "send_rate": 969.0})


# -- CPU from /proc -----------------------------------------------------------------------------------

def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0) -> str:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    return f"{pid} ({comm}) S {ppid} 1 1 0 -1 0 0 0 0 0 {utime} {stime} {cutime} {cstime} 20 0 1 0 100 0 0\n"


def test_parse_stat_reads_times_past_a_command_name_with_spaces_and_parentheses():
    st = cpu.parse_stat(stat_line(42, "gunicorn: worker (x) [gw]", 7, 100, 20, 5, 3))
    assert st == cpu.ProcStat(ppid=7, own=120, reaped=8)


def table() -> dict[int, cpu.ProcStat]:
    return {
        1: cpu.ProcStat(0, 0, 0),
        10: cpu.ProcStat(1, 100, 50),   # gunicorn master: 50 ticks of reaped workers
        11: cpu.ProcStat(10, 200, 0),   # worker
        12: cpu.ProcStat(10, 300, 0),   # worker
        13: cpu.ProcStat(12, 7, 0),     # a worker's child
        20: cpu.ProcStat(1, 1000, 0),   # postmaster
        21: cpu.ProcStat(20, 40, 0),    # backend
        30: cpu.ProcStat(1, 5, 0),      # the bench itself, parent of nothing here
    }


def test_tree_ticks_counts_every_live_descendant_and_what_was_reaped():
    assert cpu.tree_ticks(10, table()) == 100 + 50 + 200 + 300 + 7
    assert cpu.tree_ticks(20, table()) == 1040
    assert cpu.tree_ticks(99, table()) == 0


def test_snapshot_sums_several_roots_and_counts_alone_roles_without_their_children():
    snap = cpu.snapshot({"gateway": [10], "postgres": 20, "both": [11, 21], "bench": [1]}, table(), alone=("bench",))
    assert snap == {"gateway": 657, "postgres": 1040, "both": 240, "bench": 0}


def test_per_event_ms_divides_the_delta_and_totals_without_excluded_roles():
    before = {"gateway": 100, "postgres": 50, "loadgen": 10}
    after = {"gateway": 100 + 2 * cpu.TICK, "postgres": 50 + cpu.TICK, "loadgen": 10 + cpu.TICK, "new": cpu.TICK}
    out = cpu.per_event_ms(before, after, 1000, excluded=("loadgen",))
    assert out == {"gateway": 2.0, "postgres": 1.0, "loadgen": 1.0, "new": 0.0, cpu.TOTAL: 3.0}  # "new": no before
    assert cpu.per_event_ms(before, after, 0)[cpu.TOTAL] == 0.0
    shrunk = cpu.per_event_ms({"gateway": 500}, {"gateway": 100}, 10)  # a restarted process: never negative
    assert shrunk["gateway"] == 0.0


def test_read_table_reads_a_proc_directory(tmp_path):
    for pid, line in ((5, stat_line(5, "a b", 1, 3, 4, 1, 1)), (6, stat_line(6, "c", 5, 10, 0))):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(line)
    (tmp_path / "self").mkdir()
    (tmp_path / "7").mkdir()  # ended while read: no stat file
    got = cpu.read_table(tmp_path)
    assert got == {5: cpu.ProcStat(1, 7, 2), 6: cpu.ProcStat(5, 10, 0)}
    assert cpu.tree_ticks(5, got) == 19


def test_the_real_proc_table_has_this_process():
    import os
    assert cpu.snapshot({"me": os.getpid()}, alone=("me",))["me"] >= 0


# -- verdict lines and table ------------------------------------------------------------------------

def ingest_run(rate: float, p99: float) -> dict:
    return {"accepted_per_s": rate, "p50_ms": p99 / 3, "p99_ms": p99}


def system_step(rate: float, ok: bool, p99: float = 300.0) -> dict:
    return {"target_rate_per_s": rate, "sustained": ok, "why_not": [] if ok else [f"p99 202->assigned {p99:.0f} ms"],
            "assigned_p50_ms": p99 / 2, "assigned_p99_ms": p99, "http_p99_ms": 20.0,
            "cpu_ms_per_event": {"gateway (master+workers)": 1.2, "postgres (all processes)": 0.3,
                                 "load generator (bench process)": 0.1, cpu.TOTAL: 1.5}}


def figures(system_best: float | None = 1200.0) -> dict:
    floor = {"2x8": {"c16": ingest_run(1000, 20), "c64": ingest_run(900, 80)},
             "2x16": {"c16": ingest_run(1100, 30), "c64": ingest_run(800, 60)}}
    steps = [system_step(800, True), system_step(1600, False, 900)]
    if system_best:
        steps.append(system_step(system_best, True))
    return {
        "ingest": {"gateway": {"c16": ingest_run(1100, 55), "c64": ingest_run(850, 170)},
                   "baseline": {"c16": ingest_run(2000, 10), "c64": ingest_run(1800, 50)},
                   "floor": {"configs": floor, "best": harness.best_per_connections(floor)}},
        "growth": {"preload": {"identifiers": 1_000_000, "customers": 200_000}, "empty_steady_events_per_s": 700.0,
                   "loaded": {"steady_events_per_s": 559.0}},
        "system": {"tenants": 50, "sustained_rate_per_s": system_best or 0.0,
                   "at_best": steps[-1] if system_best else None, "steps": steps,
                   "tried": [[s["target_rate_per_s"], s["sustained"]] for s in steps]},
    }


def lines(f: dict, quick: bool = False) -> dict[str, str]:
    return {v["target"]: v["line"] for v in harness.judge(f, quick)}


def test_best_per_connections_takes_the_fastest_configuration_for_each():
    best = figures()["ingest"]["floor"]["best"]
    assert (best["c16"]["config"], best["c16"]["accepted_per_s"]) == ("2x16", 1100)
    assert (best["c64"]["config"], best["c64"]["accepted_per_s"]) == ("2x8", 900)


def test_ingest_is_judged_against_the_durable_floor_not_bare_flask():
    got = lines(figures())
    assert got["ingest rate vs durable floor @16 conns"].startswith(
        "PASS ingest rate vs durable floor @16 conns: 1100/s vs floor 1100/s (2x16) = 1.00x (target >= 1.00x)")
    assert got["ingest rate vs durable floor @64 conns"].startswith("FAIL ")  # 850 vs 900
    assert got["ingest p99 vs durable floor @16 conns"].startswith("PASS ")  # 55 vs 30: 1.83x
    assert got["ingest p99 vs durable floor @64 conns"].startswith("FAIL ")  # 170 vs 80: 2.12x
    assert not any("bare" in name or name.startswith("ingest rate @") for name in got)


def test_growth_passes_at_080_and_fails_below():
    assert lines(figures())["drain rate with loaded tables"].startswith("FAIL ")  # 559 / 700 = 0.799
    f = figures()
    f["growth"]["loaded"]["steady_events_per_s"] = 560.0
    assert lines(f)["drain rate with loaded tables"].startswith("PASS ")
    assert "target >= 0.80x" in lines(f)["drain rate with loaded tables"]


def test_whole_system_verdict_at_and_below_1000_per_second():
    name = "whole system sustained rate (p99 202->assigned <= 500 ms)"
    assert lines(figures(1200.0))[name] == (
        f"PASS {name}: 1200 events/s from 50 tenants, p99 300 ms, 1.50 ms CPU/event (target >= 1000 events/s)")
    assert lines(figures(1000.0))[name].startswith("PASS ")
    assert lines(figures(999.0))[name].startswith("FAIL ")
    nothing = figures(None)
    nothing["system"]["steps"] = [system_step(200, False, 700), system_step(100, False, 650)]
    nothing["system"]["tried"] = [[200, False], [100, False]]
    line = lines(nothing, quick=True)[name]
    assert line.startswith(f"FAIL {name}: no rate sustained (tried 200, 100/s; lowest: p99 202->assigned 650 ms)")
    assert line.endswith("(quick: sizes too small to mean anything)")


def test_table_shows_the_floor_bare_flask_and_the_cpu_per_event_at_the_sustained_rate():
    text = harness.table(figures())
    assert "ingest @16 conns accepted_per_s vs durable floor 2x16" in text
    assert "same accepted_per_s vs bare Flask (information)" in text
    assert "durable floor gunicorn 2x8" in text
    assert "sustained rate (tried/s: 800, 1600x, 1200" in text
    assert "CPU ms/event gateway (master+workers)" in text
    assert "CPU ms/event TOTAL (system processes)" in text
    harness.table(figures(None))  # no sustained rate: no per-rate rows, no error


def test_system_is_a_part_that_needs_nothing_else():
    assert "system" in harness.PARTS
    assert harness.with_needs({"system"}) == {"system"}
    assert harness.parse_parts("system,growth") == {"system", "growth"}


# -- the paced (open-loop) load generator -------------------------------------------------------------

class TinyServer:
    """HTTP/1.1 on 127.0.0.1 answering every request 202 with an event id after `delay` seconds; with
    `close_after` it closes a connection after that many answers (as a keep-alive timeout would)."""

    def __init__(self, delay: float = 0.0, close_after: int | None = None) -> None:
        self.delay, self.close_after = delay, close_after
        self.count = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = 0
        try:
            while True:
                length = 0
                line = await reader.readline()
                if not line:
                    return
                while line not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    line = await reader.readline()
                await reader.readexactly(length)
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.count += 1
                body = json.dumps({"event_id": f"e{self.count}"}).encode()
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                answered += 1
                if self.close_after and answered >= self.close_after:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


REQUEST = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


def test_paced_sends_on_schedule_and_samples_202s():
    server = TinyServer()
    try:
        started = time.perf_counter()
        result = loadgen.paced("127.0.0.1", server.port, [REQUEST] * 100, 250.0, connections=4, sample_every=10)
        took = time.perf_counter() - started
    finally:
        server.stop()
    assert (result.sent, result.answered, result.accepted, result.errors) == (100, 100, 100, 0)
    assert abs(result.send_rate - 250.0) / 250.0 < 0.05
    assert 0.35 < took < 2.0
    assert sorted(result.accepted_at) == list(range(0, 100, 10))
    assert len(result.lateness) == 100


def test_paced_does_not_wait_for_a_slow_server_it_opens_connections():
    server = TinyServer(delay=0.2)
    try:
        result = loadgen.paced("127.0.0.1", server.port, [REQUEST] * 100, 200.0, connections=2, max_connections=100)
    finally:
        server.stop()
    assert result.accepted == 100
    assert result.connections > 20  # ~40 requests in flight at 200/s x 0.2 s
    assert result.send_rate > 180.0
    assert min(result.latencies) >= 0.19


def test_paced_falls_behind_when_its_connections_run_out():
    server = TinyServer(delay=0.2)
    try:
        result = loadgen.paced("127.0.0.1", server.port, [REQUEST] * 60, 200.0, connections=2, max_connections=4)
    finally:
        server.stop()
    assert result.accepted == 60
    assert result.send_rate < 40.0  # 4 connections x 5/s
    assert step_failures(200.0, sent=result.sent, answered=result.answered, accepted=result.accepted,
                         errors=result.errors, send_rate=result.send_rate, samples=6, assigned_p99_ms=1.0,
                         unassigned=0)


def test_paced_resends_on_a_new_connection_when_the_server_closed_one():
    server = TinyServer(close_after=3)
    try:
        result = loadgen.paced("127.0.0.1", server.port, [REQUEST] * 40, 200.0, connections=2)
    finally:
        server.stop()
    assert (result.accepted, result.errors) == (40, 0)
    assert result.connections > 2
