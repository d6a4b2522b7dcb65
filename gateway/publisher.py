"""Durable publishing to JetStream from Flask's threads: ONE asyncio loop in ONE daemon thread per process.

Flask views are synchronous and run on gunicorn's threads; nats-py is asyncio. Each gunicorn worker
starts its own Publisher after the fork (create_app runs in the worker; gunicorn must not preload the
app), so no connection or thread is ever shared across a fork. Views call `publish(...)`, which runs the
JetStream publish on the loop and waits for the PubAck.

Failing fast: the connection reconnects forever, but its reconnect buffer is disabled
(`pending_size=0`), so a publish while disconnected fails at once instead of being buffered and sent
later. Every failure raises PublishError, which the view answers with 503 + Retry-After. A publish the
gateway gave up on may still be stored (e.g. the ack was lost); the deterministic Nats-Msg-Id makes the
sender's retry harmless.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Mapping

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError

from common import bus

log = logging.getLogger(__name__)


class PublishError(Exception):
    """JetStream did not durably accept the message (not connected, no ack in time, or an error answer)."""


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a nats-py failure for logs and PublishError."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        self._last_error = ""
        self._background: set[asyncio.Task] = set()

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
        atexit.unregister(self.close)
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or os.getpid() != self._pid:
            return
        if self._connecting is not None:
            self._connecting.cancel()
        try:
            asyncio.run_coroutine_threadsafe(self._close_connection(), loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - closing is best effort, the process is exiting
            log.warning("closing the NATS connection failed: %s", _describe(exc))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    # -- publishing (called from Flask's threads) ------------------------------------------------

    def publish(self, subject: str, data: bytes, headers: Mapping[str, str], timeout: float) -> bool:
        """Publish to JetStream and wait for the PubAck; return its `duplicate` flag. Raise PublishError."""
        loop = self._loop
        if loop is None or self._closed:
            raise PublishError("the publisher is not running")
        if os.getpid() != self._pid:
            raise PublishError("the publisher was started in another process (before a fork)")
        if not self.is_connected():
            raise PublishError("not connected to NATS")
        future = asyncio.run_coroutine_threadsafe(self._publish(subject, data, dict(headers), timeout), loop)
        try:
            return future.result(timeout + 1.0)  # _publish bounds itself by `timeout`; this is a backstop
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PublishError(f"no acknowledgement within {timeout:g}s") from None
        except concurrent.futures.CancelledError:  # the connection is being closed (worker exiting)
            raise PublishError("the publisher is closing") from None

    # -- on the loop thread -------------------------------------------------------------------------

    def _run_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The thread's body: run the loop until close(), then cancel what is left and close it."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _connect(self) -> None:
        """Connect (retrying forever while NATS is down), then make sure the streams exist."""
        nc = await bus.connect(
            self._settings,
            self._name,
            pending_size=0,  # no reconnect buffer: publishes fail fast while disconnected
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        self._js = nc.jetstream()
        self._nc = nc
        log.info("connected to NATS")
        await self._ensure_streams()

    async def _ensure_streams(self) -> bool:
        """Create or update the streams (whichever process starts first creates them); False on failure."""
        try:
            await bus.ensure_streams(self._js, self._settings)
            return True
        except Exception as exc:  # noqa: BLE001 - retried on reconnect and when a publish finds no stream
            log.warning("could not create the JetStream streams yet: %s", _describe(exc))
            return False

    async def _ensure_streams_if_missing(self) -> None:
        """After a reconnect (maybe to a new, empty server): create the stream if it is gone."""
        try:
            if not await bus.stream_exists(self._js):
                await self._ensure_streams()
        except Exception as exc:  # noqa: BLE001 - the next publish tries again
            log.warning("could not check the JetStream stream after reconnecting: %s", _describe(exc))

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str], timeout: float) -> bool:
        """One JetStream publish within `timeout`; a missing stream is created and the publish retried once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            try:
                ack = await self._js.publish(subject, data, timeout=timeout, stream=bus.STREAM, headers=dict(headers))
            except NoStreamResponseError:
                remaining = deadline - loop.time()
                if remaining <= 0 or not await asyncio.wait_for(self._ensure_streams(), remaining):
                    raise PublishError("the JetStream stream is missing and could not be created") from None
                remaining = max(deadline - loop.time(), 0.05)
                ack = await self._js.publish(subject, data, timeout=remaining, stream=bus.STREAM, headers=dict(headers))
        except PublishError:
            raise
        except asyncio.TimeoutError:  # nats.errors.TimeoutError is one too
            raise PublishError(f"JetStream did not acknowledge within {timeout:g}s") from None
        except Exception as exc:  # noqa: BLE001 - any nats-py failure (too many requests, no responders, ...)
            raise PublishError(_describe(exc)) from None
        return bool(ack.duplicate)

    async def _close_connection(self) -> None:
        """Close the NATS connection (pending requests fail; nothing is buffered to lose)."""
        nc = self._nc
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        """Log connection errors once per distinct error, not on every reconnect attempt."""
        text = _describe(exc)
        if text != self._last_error:
            self._last_error = text
            log.warning("NATS: %s", text)

    async def _on_disconnected(self) -> None:
        """Say so: publishes now answer 503 until the connection is back."""
        if not self._closed:
            log.warning("disconnected from NATS; webhooks are answered 503 until it is back")

    async def _on_reconnected(self) -> None:
        """Back: re-create the stream if the server lost it (not awaited here: callbacks must not block)."""
        self._last_error = ""
        log.info("reconnected to NATS")
        task = asyncio.ensure_future(self._ensure_streams_if_missing())
        self._background.add(task)  # keep a reference until it is done
        task.add_done_callback(self._background.discard)
