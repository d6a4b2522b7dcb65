"""Durable publishing to JetStream from Flask's threads: ONE asyncio loop in ONE daemon thread per process.

Flask views are synchronous and run on gunicorn's threads; nats-py is asyncio. Each gunicorn worker
starts its own Publisher after the fork (create_app runs in the worker; gunicorn must not preload the
app), so no connection or thread is ever shared across a fork. Views call `publish(...)`, which hands the
message to the loop and blocks until JetStream's PubAck (or an error, or the timeout) comes back.

The hand-off is batched, because with one coroutine, task, timer and concurrent future per message it
cost about as much CPU as the publish itself (docs/BENCHMARKS.md): request threads append
to a queue and wake the loop only when no wake-up is pending already; the loop then sends everything
queued, back to back (one PUB each, written together by nats-py's flusher), each with its own reply
subject under one inbox subscription of this publisher, so the PubAcks are awaited concurrently; each
PubAck releases its thread's lock. This is what nats-py's `js.publish` (a request per message) and
`js.publish_async` do on the wire, without their task, timer or futures per message. A thread that
gives up at the timeout tells the loop to forget its reply subject.

Failing fast: the connection reconnects forever, but its reconnect buffer is disabled
(`pending_size=0`), so a publish while disconnected fails at once instead of being buffered and sent
later. Every failure raises PublishError, which the view answers with 503 + Retry-After. A publish the
gateway gave up on may still be stored (e.g. the ack was lost); the deterministic Nats-Msg-Id makes the
sender's retry harmless.

Duplicates: JetStream answers a message whose Nats-Msg-Id it stored within the duplicate window with
`duplicate: true` and the stream sequence of the message it stored then (not a new one). `publish`
returns both; `stored_headers(sequence)` reads that message's headers (JetStream's message-get API, on
the loop thread, bounded by a timeout), so the view can tell a retry from a correction. Only a
duplicate costs that second round trip; any other publish costs what it did (the PubAck's sequence is
read with its duplicate flag).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import Header
from nats.js.errors import APIError, NotFoundError

from common import bus

log = logging.getLogger(__name__)

# JetStream's error code for a message-get of a sequence that holds no message (deleted, or aged out).
NO_MESSAGE = 10037


class PublishError(Exception):
    """JetStream did not durably accept the message (not connected, no ack in time, or an error answer),
    or a stored message could not be read back."""


# What publish returns: JetStream's PubAck (its duplicate flag and stream sequence).
Published = bus.PubAck


class _Publication:
    """One message handed from a request thread to the loop, and the way its outcome comes back: the loop
    settles it once (duplicate flag and sequence, or error) and releases `done`, which the thread is
    blocked on."""

    __slots__ = ("subject", "data", "headers", "deadline", "done", "duplicate", "sequence", "error", "settled",
                 "abandoned", "reply")

    def __init__(self, subject: str, data: bytes, headers: dict[str, str], deadline: float):
        """`deadline` on time.monotonic()'s clock; `done` starts locked."""
        self.subject, self.data, self.headers, self.deadline = subject, data, headers, deadline
        self.done = threading.Lock()
        self.done.acquire()
        self.duplicate = False
        self.sequence = 0
        self.error = ""
        self.settled = False  # written on the loop thread only
        self.abandoned = False  # the thread answered already (timeout): nothing more to send or wait for
        self.reply = ""  # the reply subject its PubAck comes back on, once sent

    def settle(self, *, duplicate: bool = False, sequence: int = 0, error: str = "") -> None:
        """On the loop thread: record the outcome and wake the request thread (only the first call counts)."""
        if self.settled:
            return
        self.settled, self.duplicate, self.sequence, self.error = True, duplicate, sequence, error
        self.done.release()


class Publisher:
    """A NATS connection on a private event loop thread, used synchronously from any thread."""

    def __init__(self, settings: bus.BusSettings, *, name: str = "gateway"):
        """Nothing is started here: call start() in the process that will publish (after any fork)."""
        self._settings = settings
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connecting: concurrent.futures.Future | None = None
        self._closed = False
        self._connection_log = bus.ConnectionLog(
            log, while_down="webhooks are answered 503 until it is back",
            # a reconnect may reach a new, empty server: re-create the stream (in the background)
            after_reconnect=lambda: self._keep(asyncio.ensure_future(self._ensure_streams_if_missing())))
        self._background: set[asyncio.Task] = set()
        # The hand-off: request threads append; the loop takes the whole queue per wake-up.
        self._queue: deque[_Publication] = deque()
        self._queue_lock = threading.Lock()
        self._wake_pending = False
        self._in_flight: set[_Publication] = set()  # handed over and not settled yet (failed at shutdown)
        self._reply_prefix = ""  # this connection's inbox for PubAcks: <inbox>.<n>, one n per message
        self._reply_numbers = itertools.count()
        self._awaiting: dict[str, _Publication] = {}  # reply subject -> publication sent, PubAck not in yet
        self._ensuring: asyncio.Future | None = None  # the stream creation under way, shared (see below)

    # -- lifecycle (called from the process's main thread) --------------------------------------

    def start(self) -> "Publisher":
        """Start the loop thread and begin connecting in the background; returns at once. Idempotent."""
        with self._lock:
            if self._loop is not None or self._closed:
                return self
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_loop, args=(loop,), name="nats-publisher", daemon=True)
            self._loop, self._pid = loop, os.getpid()
            self._thread.start()
            self._connecting = asyncio.run_coroutine_threadsafe(self._connect(), loop)
        atexit.register(self.close)
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the connection; True when connected."""
        deadline = time.monotonic() + timeout
        while not self.is_connected():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def is_connected(self) -> bool:
        """True while the NATS connection is up (for /readyz and to fail fast)."""
        nc = self._nc
        return nc is not None and nc.is_connected

    def close(self, timeout: float = 5.0) -> None:
        """Close the connection and stop the loop thread (idempotent; a forked child leaves it alone)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._connection_log.closing = True
        atexit.unregister(self.close)
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or os.getpid() != self._pid:
            return
        if self._connecting is not None:
            self._connecting.cancel()
        try:
            asyncio.run_coroutine_threadsafe(self._close_connection(), loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - closing is best effort, the process is exiting
            log.warning("closing the NATS connection failed: %s", bus.describe(exc))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # -- publishing (called from Flask's threads) ------------------------------------------------

    def _usable_loop(self) -> asyncio.AbstractEventLoop:
        """The loop thread's loop, if a request thread may hand it work now; else PublishError (not
        started or closing, started before a fork, or disconnected: a request fails fast)."""
        loop = self._loop
        if loop is None or self._closed:
            raise PublishError("the publisher is not running")
        if os.getpid() != self._pid:
            raise PublishError("the publisher was started in another process (before a fork)")
        if not self.is_connected():
            raise PublishError("not connected to NATS")
        return loop

    def publish(self, subject: str, data: bytes, headers: Mapping[str, str], timeout: float) -> Published:
        """Publish to JetStream and wait for the PubAck; return its duplicate flag and sequence. Raise
        PublishError."""
        loop = self._usable_loop()
        item = _Publication(subject, data, {**headers, Header.EXPECTED_STREAM: bus.STREAM}, time.monotonic() + timeout)
        self._in_flight.add(item)
        with self._queue_lock:
            self._queue.append(item)
            wake, self._wake_pending = not self._wake_pending, True
        try:
            if wake:
                loop.call_soon_threadsafe(self._take_queue)
        except RuntimeError:  # the loop was closed meanwhile (worker exiting)
            raise PublishError("the publisher is closing") from None
        if not item.done.acquire(timeout=timeout):
            item.abandoned = True
            with contextlib.suppress(RuntimeError):  # a closed loop has nothing left to cancel
                loop.call_soon_threadsafe(self._forget, item)
            raise PublishError(f"JetStream did not acknowledge within {timeout:g}s")
        if item.error:
            raise PublishError(item.error)
        return Published(item.duplicate, item.sequence)

    def stored_headers(self, sequence: int, timeout: float) -> dict[str, str] | None:
        """The headers of the message at `sequence` in the work stream (e.g. the one a duplicate's PubAck
        names), read on the loop thread; {} when it has none, None when no message is there any more
        (deleted, or aged out). Raise PublishError when it cannot be read within `timeout` seconds."""
        loop = self._usable_loop()
        if timeout <= 0:
            raise PublishError("no time left to read the stored message")
        try:
            future = asyncio.run_coroutine_threadsafe(self._read_headers(sequence, timeout), loop)
        except RuntimeError:  # the loop was closed meanwhile (worker exiting)
            raise PublishError("the publisher is closing") from None
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PublishError(f"the stored message was not read within {timeout:g}s") from None
        except concurrent.futures.CancelledError:  # the loop stopped (shutdown) before it was read
            raise PublishError("the publisher is closing") from None

    # -- on the loop thread -------------------------------------------------------------------------

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The thread's body: run the loop until close(), then cancel what is left, fail the publishes still
        waiting (their threads answer 503 at once) and close it."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            for item in list(self._in_flight):
                item.settle(error="the publisher is closing")
            loop.close()

    async def _connect(self) -> None:
        """Connect (retrying forever while NATS is down), then make sure the streams exist."""
        nc = await bus.connect(
            self._settings,
            self._name,
            pending_size=0,  # no reconnect buffer: publishes fail fast while disconnected
            **self._connection_log.options(),
        )
        self._js = nc.jetstream()
        self._reply_prefix = nc.new_inbox() + "."
        await nc.subscribe(self._reply_prefix + "*", cb=self._on_reply)
        self._nc = nc  # now is_connected() may say so: publishes can be answered
        log.info("connected to NATS")
        await self._ensure_streams()

    async def _ensure_streams(self) -> bool:
        """Create or update the streams (whichever process starts first creates them); False on failure."""
        try:
            await bus.ensure_streams(self._js, self._settings)
            return True
        except Exception as exc:  # noqa: BLE001 - retried on reconnect and when a publish finds no stream
            log.warning("could not create the JetStream streams yet: %s", bus.describe(exc))
            return False

    async def _ensure_streams_once(self) -> bool:
        """_ensure_streams, one at a time for this publisher: the publishes that find no stream while a
        creation is under way wait for that one instead of each sending its own. In a cluster, every
        publish is answered "no responders" for the moment a stream's leader is being elected: a create
        per publish would be a burst at the meta leader just as it recovers. Shielded: a publication that
        gives up (its deadline) does not cancel the creation the others wait for."""
        if self._ensuring is None or self._ensuring.done():
            self._ensuring = asyncio.ensure_future(self._ensure_streams())
        return await asyncio.shield(self._ensuring)

    async def _ensure_streams_if_missing(self) -> None:
        """After a reconnect (maybe to a new, empty server): create the stream if it is gone."""
        try:
            if not await bus.stream_exists(self._js):
                await self._ensure_streams()
        except Exception as exc:  # noqa: BLE001 - the next publish tries again
            log.warning("could not check the JetStream stream after reconnecting: %s", bus.describe(exc))

    def _take_queue(self) -> None:
        """The wake-up callback: take everything queued so far and send it in one task."""
        with self._queue_lock:
            batch = list(self._queue)
            self._queue.clear()
            self._wake_pending = False
        if batch:
            self._keep(asyncio.ensure_future(self._send(batch)))

    async def _send(self, batch: list[_Publication]) -> None:
        """PUB every message of the batch (nats-py's flusher writes them together), each with its own reply
        subject; _on_reply settles it when its PubAck arrives. A message whose thread gave up is not sent."""
        for item in batch:
            if item.abandoned:
                self._in_flight.discard(item)
                continue
            item.reply = f"{self._reply_prefix}{next(self._reply_numbers)}"
            self._awaiting[item.reply] = item
            try:
                await self._nc.publish(item.subject, item.data, reply=item.reply, headers=item.headers)
            except Exception as exc:  # noqa: BLE001 - not connected, connection closing, ...: the thread gets 503
                self._awaiting.pop(item.reply, None)
                self._finish(item, error=bus.describe(exc))

    async def _on_reply(self, msg: Msg) -> None:
        """JetStream's answer to one publish (common.bus.read_pub_ack): a PubAck settles it, an error answer
        fails it; "no responders" (no stream at all, e.g. a new, empty server) is the one failure retried:
        the stream is created and the message published again."""
        item = self._awaiting.pop(msg.subject, None)
        if item is None:  # its thread gave up already
            return
        try:
            ack = bus.read_pub_ack(msg)
        except NoRespondersError:
            self._keep(asyncio.ensure_future(self._create_stream_and_publish(item)))
        except APIError as exc:
            self._finish(item, error=bus.describe(exc))
        else:
            self._finish(item, duplicate=ack.duplicate, sequence=ack.sequence)

    def _forget(self, item: _Publication) -> None:
        """Its thread gave up (timeout): a PubAck that still comes is ignored, nothing is kept for it."""
        self._awaiting.pop(item.reply, None)
        self._in_flight.discard(item)

    def _finish(self, item: _Publication, *, duplicate: bool = False, sequence: int = 0, error: str = "") -> None:
        """Settle a publication and stop tracking it."""
        self._in_flight.discard(item)
        item.settle(duplicate=duplicate, sequence=sequence, error=error)

    async def _create_stream_and_publish(self, item: _Publication) -> None:
        """No stream answered: it is missing (NATS restarted without its data) or, in a cluster, its leader
        is being elected. Make sure it exists (one creation at a time, _ensure_streams_once), then publish
        once more and await that PubAck, all within the publication's deadline."""
        remaining = item.deadline - time.monotonic()
        try:
            if remaining <= 0 or not await asyncio.wait_for(self._ensure_streams_once(), remaining):
                raise PublishError("no JetStream stream answered: it is missing and could not be created, or its "
                                   "leader is being elected")
            remaining = max(item.deadline - time.monotonic(), 0.05)
            ack = await self._js.publish(item.subject, item.data, timeout=remaining, stream=bus.STREAM,
                                         headers=item.headers)
        except PublishError as exc:
            self._finish(item, error=str(exc))
        except asyncio.TimeoutError:  # nats.errors.TimeoutError is one too
            self._finish(item, error="JetStream did not acknowledge in time (no stream answered the publish: "
                         "missing, or its leader being elected)")
        except Exception as exc:  # noqa: BLE001 - any nats-py failure (too many requests, no responders, ...)
            self._finish(item, error=bus.describe(exc))
        else:
            self._finish(item, duplicate=bool(ack.duplicate), sequence=ack.seq or 0)

    async def _read_headers(self, sequence: int, timeout: float) -> dict[str, str] | None:
        """stored_headers on the loop thread: JetStream's message-get of one sequence of the work stream."""
        try:
            message = await asyncio.wait_for(self._js.get_msg(bus.STREAM, sequence), timeout)
        except NotFoundError as exc:
            if exc.err_code == NO_MESSAGE:
                return None
            raise PublishError(f"the stored message could not be read: {bus.describe(exc)}") from None
        except asyncio.TimeoutError:  # nats.errors.TimeoutError is one too
            raise PublishError(f"the stored message was not read within {timeout:g}s") from None
        except Exception as exc:  # noqa: BLE001 - any nats-py failure: the view answers 503
            raise PublishError(f"the stored message could not be read: {bus.describe(exc)}") from None
        return dict(message.headers or {})

    def _keep(self, task: asyncio.Future) -> None:
        """Hold a reference to a background task until it is done (the loop keeps only weak ones)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_connection(self) -> None:
        """Close the NATS connection (pending requests fail; nothing is buffered to lose)."""
        nc = self._nc
        if nc is not None and not nc.is_closed:
            await nc.close()
