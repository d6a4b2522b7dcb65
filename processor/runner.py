"""The processor's life: start-up, the fetch loop, and graceful shutdown.

Start-up: connect NATS, create the streams and the durable consumer if no process has yet, bind a pull
subscription to it, open one grpc.aio channel per service and the outcomes pool, and (`serve`) start the
outcomes' gRPC server (EventOutcomeService, processor/outcome_api.py) on PROCESSOR_GRPC_PORT.
Loop: fetch up to `batch_size` messages (never more than free slots under `concurrency`, nor more maximum-size messages
than fit in what is left of the `max_in_flight_bytes` budget) and handle each in its own task; while the
messages in hand weigh the whole budget, fetch nothing until some finish.
Stop (SIGTERM/SIGINT, or the `stop` event): fetch no more, give the messages in hand up to the grace
period to finish, nak the rest without delay, drain NATS, close the channels and the pool. The outcomes'
gRPC server reports NOT_SERVING at the stop and lets its calls in flight finish within the same grace
period, before the pool closes.
Meanwhile the consumer's backlog is read every CONSUMER_INFO_INTERVAL_SECONDS into the lag gauges, and
`serve` exposes them with every other metric on METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import nats.errors
from grpc_health.v1 import health
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from psycopg_pool import AsyncConnectionPool

from common import bus, db, grpc_server, grpc_tls
from common.metrics import serve as serve_metrics
from processor import domain_events, metrics, outcome_api, outcomes
from processor.coalescer import Coalescer
from processor.clients import ServiceClients
from processor.handler import MessageHandler, Policy
from processor.outcomes import EventOutcome
from processor.settings import ProcessorSettings

log = logging.getLogger("processor")

T = TypeVar("T")
FETCH_ERROR_PAUSE_SECONDS = 1.0
OUTCOMES_PER_WRITE = 500
OUTCOME_WRITES_IN_FLIGHT = 2
CONSUMER_INFO_INTERVAL_SECONDS = 5.0


def policy_for(settings: ProcessorSettings, consumer: ConsumerConfig) -> Policy:
    """Redelivery rules from the settings and the consumer as it exists on the server (an operator may
    have tuned max_deliver or ack_wait; the processor follows what JetStream will actually do)."""
    # The processor's own last attempt leaves the consumer's reserve deliveries (bus.RESERVE_DELIVERIES)
    # for dead-lettering what that attempt did not settle; a consumer without room for them (made by hand)
    # gets its last delivery as the processor's last attempt, as before.
    limit = consumer.max_deliver if consumer.max_deliver and consumer.max_deliver > 0 else None
    max_deliver = limit - bus.RESERVE_DELIVERIES if limit and limit > bus.RESERVE_DELIVERIES + 1 else limit
    ack_wait = consumer.ack_wait or settings.bus.ack_wait_seconds
    return Policy(
        retry_delays=settings.retry_delays,
        max_deliver=max_deliver,
        consumer_max_deliver=limit,
        unexpected_max_deliveries=settings.unexpected_max_deliveries,
        heartbeat_seconds=max(ack_wait / 3, 0.5),
    )


def recorder(pool: AsyncConnectionPool) -> tuple[Callable[[EventOutcome], Awaitable[None]], Coalescer]:
    """outcomes.record for the handlers, coalesced: the outcomes recorded at about the same time are
    written by one statement on one pooled connection. A database that is down raises Unavailable
    (transient) in every handler of the batch. Returns the function and its coalescer (to close)."""

    async def record_batch(batch: list[EventOutcome]) -> list[None]:
        """Write the queued outcomes on a connection borrowed from the pool."""
        async with db.connection(pool) as conn:
            await outcomes.record_many(conn, batch)
        return [None] * len(batch)

    coalescer: Coalescer[EventOutcome, None] = Coalescer(record_batch, max_items=OUTCOMES_PER_WRITE,
                                                         max_calls=OUTCOME_WRITES_IN_FLIGHT)
    return coalescer.call, coalescer


async def unless_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T | None:
    """Await `awaitable`, unless `stop` is set first: then cancel it and return None."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None


# A NATS header block: "NATS/1.0\r\n" ... "\r\n", and ": " + "\r\n" around each header line.
HEADER_BLOCK_BYTES = 12
HEADER_LINE_BYTES = 4


def message_bytes(msg: Msg) -> int:
    """What a message weighs as it arrived: its payload plus its headers as NATS sends them."""
    size = len(msg.data)
    if msg.headers:
        size += HEADER_BLOCK_BYTES + sum(len(name) + len(value) + HEADER_LINE_BYTES
                                         for name, value in msg.headers.items())
    return size


def fetch_size(batch_size: int, free_slots: int, free_bytes: int | None, max_message_bytes: int) -> int:
    """How many messages one fetch may ask for: no more than `batch_size` and the free slots, and no
    more maximum-size messages than fit in the free bytes (nats-py's fetch has no max_bytes, so the
    count is what bounds a batch's bytes). Always at least one: a message larger than the whole budget
    is still fetched (while the bytes in hand are below the budget), and nothing after it until it is done."""
    count = min(batch_size, free_slots)
    if free_bytes is not None:
        count = min(count, max(1, free_bytes // max_message_bytes))
    return count


async def consume(
    subscription: Any,
    handle: Callable[[Msg], Awaitable[None]],
    *,
    batch_size: int,
    concurrency: int,
    fetch_timeout: float,
    stop: asyncio.Event,
    max_in_flight_bytes: int | None = None,
    max_message_bytes: int = 1024 * 1024,
) -> set[asyncio.Task]:
    """Fetch and start handling messages until `stop` is set; return the tasks still running.

    At most `concurrency` messages are in hand, and, with a `max_in_flight_bytes` budget, no fetch starts
    while the messages in hand weigh (message_bytes) the budget or more; a fetch asks for no more
    messages of `max_message_bytes` (the server's max_payload) than fit in what is left. So the bytes in
    hand stay below budget + one message, and a message larger than the budget is still handled, with
    nothing fetched beside it.
    Without a budget (None) messages are not weighed.

    A fetch that times out with nothing to do is normal. A failing fetch (NATS reconnecting) is
    retried after a short pause; the messages in hand keep going meanwhile.
    """
    in_flight: set[asyncio.Task] = set()
    held = 0  # bytes of the messages in `in_flight`

    def start(msg: Msg) -> None:
        nonlocal held
        size = message_bytes(msg) if max_in_flight_bytes is not None else 0
        task = asyncio.create_task(handle(msg))
        in_flight.add(task)
        held += size
        metrics.IN_FLIGHT.add(size)

        def done(finished: asyncio.Task) -> None:
            nonlocal held
            in_flight.discard(finished)
            held -= size
            metrics.IN_FLIGHT.remove(size)

        task.add_done_callback(done)

    # With every slot busy, or the budget used up, the loop waits for a message to finish, or for the
    # stop: a stop must not wait for a message to finish first (the grace period starts with the stop,
    # in finish()).
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            free = concurrency - len(in_flight)
            free_bytes = None if max_in_flight_bytes is None else max_in_flight_bytes - held
            if free <= 0 or (free_bytes is not None and free_bytes <= 0):
                await asyncio.wait({*in_flight, stopping}, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                batch = await subscription.fetch(fetch_size(batch_size, free, free_bytes, max_message_bytes),
                                                 timeout=fetch_timeout)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                # An idle fetch that simply found nothing: nats-py raises its own TimeoutError, or
                # asyncio's from a wait_for inside it. Neither is a failure, and neither pauses the loop.
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep consuming; NATS reconnects by itself
                log.warning("fetch failed (%s); retrying in %gs", type(exc).__name__, FETCH_ERROR_PAUSE_SECONDS)
                await unless_stopped(asyncio.sleep(FETCH_ERROR_PAUSE_SECONDS), stop)
                continue
            for msg in batch:
                start(msg)
    finally:
        stopping.cancel()
    return in_flight


async def watch_consumer(js: JetStreamContext, stop: asyncio.Event,
                         interval: float = CONSUMER_INFO_INTERVAL_SECONDS) -> None:
    """Until `stop` is set, read the durable consumer's state every `interval` seconds into the lag
    gauges, and the dead-letter stream's into theirs. A failed read (NATS reconnecting) keeps the last
    values; the timestamp gauge tells how old they are."""
    oldest: dict[int, datetime.datetime] = {}  # the dead-letter stream's first sequence -> its time
    while not stop.is_set():
        try:
            info = await js.consumer_info(bus.STREAM, bus.CONSUMER)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - only the gauges go stale; consuming goes on
            log.debug("consumer info unavailable (%s)", type(exc).__name__)
        else:
            metrics.CONSUMER_LAG.set((info.num_pending or 0) + (info.num_ack_pending or 0))
            metrics.CONSUMER_ACK_PENDING.set(info.num_ack_pending or 0)
            metrics.CONSUMER_POLLED.set_to_current_time()
        await watch_dead_letters(js, oldest)
        await unless_stopped(asyncio.sleep(interval), stop)


async def watch_dead_letters(js: JetStreamContext, oldest: dict[int, datetime.datetime]) -> None:
    """The dead-letter stream's size, its oldest entry's age and its retention, into their gauges (for the
    alert on dead letters about to be dropped unread); a failed read keeps the last values. The oldest
    entry is read only when it changed (`oldest` remembers its sequence and time): an entry may be a
    megabyte, and this runs every few seconds on every replica."""
    try:
        info = await js.stream_info(bus.DEAD_LETTER_STREAM)
        first = info.state.first_seq if info.state.messages else None
        if first is not None and first not in oldest:
            oldest.clear()
            oldest[first] = (await js.get_msg(bus.DEAD_LETTER_STREAM, first)).time
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - only the gauges go stale
        log.debug("dead-letter stream info unavailable (%s)", type(exc).__name__)
        return
    metrics.DEAD_LETTERS_HELD.set(info.state.messages or 0)
    metrics.DEAD_LETTER_MAX_AGE.set(info.config.max_age or 0)
    since = oldest.get(first) if first is not None else None
    metrics.DEAD_LETTER_OLDEST_AGE.set(max(0.0, time.time() - since.timestamp()) if since else 0.0)


async def finish(in_flight: set[asyncio.Task], grace_seconds: float) -> tuple[int, int]:
    """Let the messages in hand finish for up to `grace_seconds`, then cancel the rest (their handler
    naks them without delay). Returns (finished, handed back)."""
    tasks = set(in_flight)
    if not tasks:
        return 0, 0
    log.info("stopping: finishing %d message(s) in hand (up to %gs)", len(tasks), grace_seconds)
    done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return len(done), len(pending)


@dataclass
class Resources:
    """What start-up opened so far, so shutdown (or a failed start) closes exactly that."""

    connection_log: bus.ConnectionLog = field(
        default_factory=lambda: bus.ConnectionLog(log, while_down="reconnecting; the messages in hand wait"))
    nc: Client | None = None
    subscription: Any = None
    clients: ServiceClients | None = None
    pool: AsyncConnectionPool | None = None
    outcome_writes: Coalescer | None = None
    # The outcomes' gRPC server (serve only), its health, the grace its calls get at the stop, and its stop.
    api: grpc.aio.Server | None = None
    api_health: health.aio.HealthServicer | None = None
    api_grace_seconds: float = 0.0
    api_stopping: asyncio.Future | None = None

    def stop_api(self) -> asyncio.Future | None:
        """Begin stopping the outcomes' gRPC server, once: NOT_SERVING at once, then the calls in flight
        get the grace period and new ones are refused. Returns what to await (None without a server)."""
        if self.api is not None and self.api_stopping is None:
            self.api_stopping = asyncio.ensure_future(
                _stop_server(self.api, self.api_health, self.api_grace_seconds))
        return self.api_stopping

    async def close(self) -> None:
        """Unsubscribe, drain NATS (flushing acks), close the channels, stop the outcomes' gRPC server and
        close the pool it reads.

        The pull subscription is unsubscribed first: draining it would wait on its internal queue,
        which fetch() never marks done, until drain_timeout.
        """
        self.connection_log.closing = True
        if self.nc is not None and not self.nc.is_closed:
            try:
                if self.subscription is not None:
                    await self.subscription.unsubscribe()
                await self.nc.drain()
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.warning("NATS drain failed (%s); closing", type(exc).__name__)
                with contextlib.suppress(Exception):
                    await self.nc.close()
        if self.clients is not None:
            await self.clients.close()
        if self.outcome_writes is not None:
            await self.outcome_writes.close()
        stopping = self.stop_api()
        if stopping is not None:
            try:
                await stopping
            except Exception as exc:  # noqa: BLE001 - closing anyway
                log.warning("the outcomes' gRPC server did not stop cleanly (%s)", type(exc).__name__)
        if self.pool is not None:
            await self.pool.close()


async def _stop_server(server: grpc.aio.Server, health_servicer: health.aio.HealthServicer | None,
                       grace_seconds: float) -> None:
    """Report NOT_SERVING, then stop: calls in flight get `grace_seconds`, new ones are refused."""
    if health_servicer is not None:
        await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)


async def start(settings: ProcessorSettings, res: Resources, *, serve_api: bool = False) -> MessageHandler:
    """Connect, set up the bus (idempotently), bind to the durable consumer, open channels and pool, and
    with `serve_api` start the outcomes' gRPC server on it; return the handler for the messages."""
    log.info("connecting to NATS at %s", settings.bus.url_for_logs)
    res.nc = await bus.connect(settings.bus, "processor", drain_timeout=5, **res.connection_log.options())
    js = res.nc.jetstream()
    await bus.ensure_streams(js, settings.bus)
    await bus.ensure_consumer(js, settings.bus)
    consumer = await js.consumer_info(bus.STREAM, bus.CONSUMER)
    res.subscription = await js.pull_subscribe_bind(bus.CONSUMER, stream=bus.STREAM)
    tls = grpc_tls.required(settings.tls)
    res.clients = ServiceClients(settings.customer_service_addr, settings.identifier_service_addr,
                                 settings.rpc_timeout_seconds, tls=tls)
    res.pool = await db.open_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
    policy = policy_for(settings, consumer.config)
    record, res.outcome_writes = recorder(res.pool)
    if serve_api:
        await start_api(settings, res, tls)
    effects = await domain_events.EffectPublisher(res.nc).start()
    handler = MessageHandler(js, res.clients, record, policy, publish_effects=effects.publish)
    log.info("processor ready: consuming %s as %s (batch %d, concurrency %d, in-flight budget %d bytes, messages "
             "up to %d bytes, max_deliver %s, customers at %s, identifiers at %s)", bus.STREAM, bus.CONSUMER,
             settings.batch_size, settings.concurrency, settings.max_in_flight_bytes, res.nc.max_payload,
             policy.max_deliver or "unlimited", settings.customer_service_addr, settings.identifier_service_addr)
    return handler


async def start_api(settings: ProcessorSettings, res: Resources, tls: grpc_tls.TlsFiles | None) -> None:
    """Serve EventOutcomeService on PROCESSOR_GRPC_PORT (0 picks a free port), reading the outcomes pool:
    over mutual TLS with the processor's certificate (plain text under GRPC_INSECURE), with health and,
    when GRPC_REFLECTION says so, reflection. A taken port raises OSError (the process cannot start).

    Reads take at most what the pool holds beyond the outcome writes in flight, so a busy dashboard
    never holds up the recording of an outcome (and so the ack of a message)."""
    address = f"{settings.bind_host}:{settings.grpc_port}"
    max_reads = settings.pool_max - OUTCOME_WRITES_IN_FLIGHT
    res.api_grace_seconds = settings.grace_seconds
    res.api, port, res.api_health = await grpc_server.create_server(
        [outcome_api.registration(res.pool, max_reads)], address, tls, reflection=settings.reflection,
        port_setting="PROCESSOR_GRPC_PORT")
    log.info("processor serving %s on %s:%d, %s", outcome_api.SERVICE_NAME, settings.bind_host, port,
             "mutual TLS" if tls else "PLAIN TEXT (GRPC_INSECURE)")


async def run(settings: ProcessorSettings, stop: asyncio.Event, *, serve_api: bool = False) -> None:
    """Run until `stop` is set, then shut down gracefully. Migrations are applied by the caller.

    With `serve_api` (what `serve` does) the outcomes' gRPC server runs beside the consumer, from when the
    outcomes pool is open until the stop (reported NOT_SERVING at once, stopped before the pool closes).
    A stop during start-up (e.g. NATS not reachable yet) abandons the start-up.
    """
    res = Resources()
    watcher: asyncio.Task | None = None
    try:
        handler = await unless_stopped(start(settings, res, serve_api=serve_api), stop)
        if handler is None:
            return
        watcher = asyncio.create_task(watch_consumer(handler.js, stop))
        # No message on the bus is larger than the server's max_payload (payload + headers).
        in_flight = await consume(res.subscription, handler.handle, batch_size=settings.batch_size,
                                  concurrency=settings.concurrency, fetch_timeout=settings.fetch_timeout_seconds,
                                  stop=stop, max_in_flight_bytes=settings.max_in_flight_bytes,
                                  max_message_bytes=min(res.nc.max_payload, settings.bus.max_message_bytes))
        res.stop_api()  # NOT_SERVING now; its calls in flight finish alongside the messages in hand
        finished, handed_back = await finish(in_flight, settings.grace_seconds)
        if finished or handed_back:
            log.info("stopping: %d in-hand message(s) finished, %d handed back", finished, handed_back)
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await res.close()


async def serve(settings: ProcessorSettings) -> None:
    """Serve the metrics (METRICS_PORT), then `run` with the outcomes' gRPC server (PROCESSOR_GRPC_PORT)
    until SIGTERM or SIGINT (what `python -m processor` does). A taken metrics port raises OSError before
    anything is connected; a taken gRPC port, once the pool is open."""
    serve_metrics(settings.metrics_port, settings.bind_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop, serve_api=True)
    log.info("processor stopped")
