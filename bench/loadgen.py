"""An HTTP/1.1 load generator on asyncio streams: keep-alive connections, pre-encoded signed requests,
nothing parsed but the status line, the headers needed to find the body, and (when asked) the body.

closed_loop: every connection sends its next request as soon as the previous answer arrives (capacity).
open_loop: requests leave on a fixed schedule (rate per second) over a pool of connections (latency at a
given load); the latency of each is counted from its scheduled time, so a queue is not hidden.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    accepted_at: dict[int, tuple[float, str]] = field(default_factory=dict)  # index -> (wall time, event id)
    errors: int = 0

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                    want_body: bool) -> tuple[int, bytes]:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body if want_body else b""


async def _closed_loop(host: str, port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    result = LoadResult()
    next_index = iter(range(len(requests)))
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in next_index:
                if time.perf_counter() >= deadline:
                    break
                started = time.perf_counter()
                result.sent += 1
                try:
                    status, _ = await _exchange(reader, writer, requests[i], False)
                except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


async def _open_loop(host: str, port: int, requests: list[bytes], rate: float, connections: int,
                     sample_every: int) -> LoadResult:
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))

    async def one(i: int, scheduled: float) -> None:
        reader, writer = await pool.get()
        want = i % sample_every == 0
        try:
            status, body = await _exchange(reader, writer, requests[i], want)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1
            writer.close()
            pool.put_nowait(await asyncio.open_connection(host, port))
            return
        pool.put_nowait((reader, writer))
        result.latencies.append(time.perf_counter() - scheduled)
        result.statuses[status] += 1
        if want and status == 202:
            result.accepted_at[i] = (time.time(), json.loads(body)["event_id"])

    started = time.perf_counter()
    tasks = []
    for i in range(len(requests)):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.sent += 1
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result


def closed_loop(host: str, port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    """`connections` keep-alive connections back to back for `seconds` (or until `requests` run out)."""
    return asyncio.run(_closed_loop(host, port, requests, connections, seconds))


def open_loop(host: str, port: int, requests: list[bytes], rate: float, connections: int = 64,
              sample_every: int = 10) -> LoadResult:
    """All `requests` at `rate` per second; every `sample_every`-th 202 keeps its wall time and event id."""
    return asyncio.run(_open_loop(host, port, requests, rate, connections, sample_every))
