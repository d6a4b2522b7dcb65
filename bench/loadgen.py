"""An HTTP/1.1 load generator on asyncio streams: keep-alive connections, pre-encoded signed requests,
nothing parsed but the status line, the headers needed to find the body, and (when asked) the body.

closed_loop: every connection sends its next request as soon as the previous answer arrives (capacity).
open_loop: requests leave on a fixed schedule (rate per second) over a pool of connections (latency at a
given load); the latency of each is counted from its scheduled time, so a queue is not hidden.
paced: open loop too, for finding a sustainable rate: a request is due at its scheduled time and leaves
on the first idle keep-alive connection; when none is idle a new one is opened (up to a cap), so a slow
server does not hold the next send back; it records when each request actually left, so the achieved
send rate (and how late sends were) is known, not assumed.
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
    # paced only: from the first scheduled send to the last actual send, plus one interval (so a perfectly
    # paced run of n requests at r/s gives n / r); how late each send left; connections opened
    send_seconds: float = 0.0
    lateness: list[float] = field(default_factory=list)
    connections: int = 0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def send_rate(self) -> float:
        return self.sent / self.send_seconds if self.send_seconds else 0.0

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


_RETRYABLE = (OSError, ConnectionError, asyncio.IncompleteReadError)


async def _paced(host: str, port: int, requests: list[bytes], rate: float, connections: int, max_connections: int,
                 sample_every: int, idle_limit: float) -> LoadResult:
    result = LoadResult()
    due: asyncio.Queue = asyncio.Queue()
    idle = 0  # workers waiting for a due request
    connecting = 0  # workers started, not yet connected
    workers: list[asyncio.Task] = []
    last_sent = 0.0

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        result.connections += 1
        return await asyncio.open_connection(host, port)

    async def worker() -> None:
        nonlocal idle, connecting, last_sent
        try:
            reader, writer = await connect()
        finally:
            connecting -= 1
        used = time.perf_counter()
        try:
            while True:
                idle += 1
                item = await due.get()
                idle -= 1
                if item is None:
                    return
                i, scheduled = item
                want = i % sample_every == 0
                if time.perf_counter() - used > idle_limit:  # the server may have closed it (keep-alive timeout)
                    writer.close()
                    reader, writer = await connect()
                now = time.perf_counter()
                result.sent += 1
                result.lateness.append(now - scheduled)
                last_sent = max(last_sent, now)
                try:
                    try:
                        status, body = await _exchange(reader, writer, requests[i], want)
                    except _RETRYABLE:  # closed while idle: once more on a new connection
                        writer.close()
                        reader, writer = await connect()
                        status, body = await _exchange(reader, writer, requests[i], want)
                except (*_RETRYABLE, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await connect()
                    used = time.perf_counter()
                    continue
                used = time.perf_counter()
                result.latencies.append(used - scheduled)
                result.statuses[status] += 1
                if want and status == 202:
                    result.accepted_at[i] = (time.time(), json.loads(body)["event_id"])
        finally:
            writer.close()

    def spawn(count: int) -> None:
        nonlocal connecting
        connecting += count
        workers.extend(asyncio.create_task(worker()) for _ in range(count))

    spawn(connections)
    await asyncio.sleep(0.2)  # let them connect
    started = time.perf_counter()
    n = len(requests)
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and started + i / rate <= now:
            due.put_nowait((i, started + i / rate))
            i += 1
        short = due.qsize() - idle - connecting
        if short > 0 and len(workers) < max_connections:
            spawn(min(short, max_connections - len(workers)))
        if i < n:
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - started
    result.send_seconds = (last_sent - started + 1 / rate) if result.sent else 0.0
    return result


def paced(host: str, port: int, requests: list[bytes], rate: float, *, connections: int = 16,
          max_connections: int = 256, sample_every: int = 10, idle_limit: float = 1.5) -> LoadResult:
    """Every request of `requests` due at `rate` per second from the start, sent on an idle keep-alive
    connection (a new one when none is idle, up to `max_connections`; one idle for more than `idle_limit`
    seconds, the server's keep-alive timeout being gunicorn's 2 s, is replaced before use); every
    `sample_every`-th 202 keeps its wall time and event id."""
    return asyncio.run(_paced(host, port, requests, rate, connections, max_connections, sample_every, idle_limit))


def closed_loop(host: str, port: int, requests: list[bytes], connections: int, seconds: float) -> LoadResult:
    """`connections` keep-alive connections back to back for `seconds` (or until `requests` run out)."""
    return asyncio.run(_closed_loop(host, port, requests, connections, seconds))


def open_loop(host: str, port: int, requests: list[bytes], rate: float, connections: int = 64,
              sample_every: int = 10) -> LoadResult:
    """All `requests` at `rate` per second; every `sample_every`-th 202 keeps its wall time and event id."""
    return asyncio.run(_open_loop(host, port, requests, rate, connections, sample_every))
