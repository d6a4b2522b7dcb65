"""Helpers for the processor's integration tests: build and publish WebhookEvents the way the gateway
does, run the processor in-process (its own event loop in a thread) or read what it did.

Imported by tests/integration/test_processor_*.py (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import psycopg
from psycopg.rows import dict_row

from autentikapp.v1 import customer_pb2, events_pb2
from common import bus, grpc_tls, work_message
from common.timestamps import to_timestamp
from processor import runner
from processor.settings import ProcessorSettings
from tls_support import tls_env

SOLD_AT = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
TENANT = "t1"


def webhook_event(
    items: Iterable[tuple[str, str]] = (),
    *,
    event_id: str | None = None,
    tenant_id: str = TENANT,
    transaction_id: str = "FACT-1",
    customer: dict[str, str] | None = None,
    product_name: str = "Bolso de Cuero",
) -> events_pb2.WebhookEvent:
    """A WebhookEvent as the gateway publishes it; items are (product_sku, autentikapp_code) pairs."""
    return events_pb2.WebhookEvent(
        schema_version=1,
        event_id=event_id or f"evt-{uuid.uuid4().hex[:16]}",
        tenant_id=tenant_id,
        received_at=to_timestamp(datetime.now(timezone.utc)),
        sale=events_pb2.Sale(
            event_type="transaction.created",
            event_timestamp=to_timestamp(SOLD_AT),
            customer=customer_pb2.CustomerData(**(customer or {"email": f"buyer-{uuid.uuid4().hex[:8]}@b.co"})),
            transaction_id=transaction_id,
            currency="COP",
            total_amount="100.00",
            line_items=[
                events_pb2.LineItem(product_sku=sku, product_name=product_name, quantity=1, unit_price="1.00",
                                    autentikapp_code=code)
                for sku, code in items
            ],
        ),
        raw_body=b"{}",
    )


def as_message(event: events_pb2.WebhookEvent, msg_id: str | None = None) -> tuple[str, bytes, dict[str, str]]:
    """(subject, data, headers) exactly as the gateway publishes the event."""
    headers = work_message.headers(event.event_id, event.tenant_id, msg_id=msg_id or event.event_id)
    return bus.subject_for(event.tenant_id), event.SerializeToString(), headers


def bus_settings(nats_url: str) -> bus.BusSettings:
    """The bus settings from the environment (the test's env), pointed at the test's NATS."""
    with mock.patch.dict(os.environ, {"NATS_URL": nats_url}):
        return bus.BusSettings.from_env()


async def _with_js(nats_url: str, work: Callable[[Any], Any]) -> Any:
    nc = await bus.connect(bus_settings(nats_url), "test", max_reconnect_attempts=2)
    try:
        return await work(nc.jetstream())
    finally:
        await nc.close()


def publish(nats_url: str, *messages: events_pb2.WebhookEvent | tuple[str, bytes, dict[str, str] | None]) -> None:
    """Publish events (or raw (subject, data, headers) triples) to the work stream, waiting for each PubAck."""

    async def work(js):
        await bus.ensure_streams(js, bus_settings(nats_url))
        for message in messages:
            subject, data, headers = as_message(message) if isinstance(message, events_pb2.WebhookEvent) else message
            await js.publish(subject, data, headers=headers or None)

    asyncio.run(_with_js(nats_url, work))


def dead_letters(nats_url: str) -> list[Any]:
    """Every message in the dead-letter stream (RawStreamMsg: subject, data, headers, seq)."""

    async def work(js):
        try:
            last = (await js.stream_info(bus.DEAD_LETTER_STREAM)).state.last_seq
        except Exception:  # noqa: BLE001 - no stream yet: nothing dead-lettered
            return []
        return [await js.get_msg(bus.DEAD_LETTER_STREAM, seq) for seq in range(1, last + 1)]

    return asyncio.run(_with_js(nats_url, work))


def consumer_info(nats_url: str) -> Any:
    """The durable consumer's state (num_pending, num_ack_pending, num_redelivered, ack_floor...)."""
    return asyncio.run(_with_js(nats_url, lambda js: js.consumer_info(bus.STREAM, bus.CONSUMER)))


def consumer_idle(nats_url: str, messages: int) -> bool:
    """True when the consumer has delivered and settled the first `messages` messages of the stream."""
    info = consumer_info(nats_url)
    return info.ack_floor.stream_seq >= messages and info.num_pending == 0 and info.num_ack_pending == 0


def outcome_rows(url: str) -> dict[str, dict[str, Any]]:
    """Every recorded outcome, by event id."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {row["event_id"]: row for row in conn.execute("SELECT * FROM event_outcomes")}


def processor_env(nats_url: str, customer_addr: str, identifier_addr: str, database_url: str,
                  **overrides: str) -> dict[str, str]:
    """The environment of a processor for a test: short delays and fetch timeout, so failures resolve fast."""
    return {
        "NATS_URL": nats_url,
        "CUSTOMER_SERVICE_ADDR": customer_addr,
        "IDENTIFIER_SERVICE_ADDR": identifier_addr,
        "PROCESSOR_DATABASE_URL": database_url,
        "PROCESSOR_RETRY_DELAYS": "0.2,0.5,1",
        "PROCESSOR_FETCH_TIMEOUT_SECONDS": "0.5",
        "PROCESSOR_RPC_TIMEOUT_SECONDS": "5",
        "SHUTDOWN_GRACE_SECONDS": "5",
        **tls_env(grpc_tls.PROCESSOR),  # it calls the services as the processor
        **overrides,
    }


class InProcessProcessor:
    """processor.runner.run on its own event loop in a background thread, stopped like SIGTERM would."""

    def __init__(self, env: dict[str, str]) -> None:
        with mock.patch.dict(os.environ, env):
            self.settings = ProcessorSettings.from_env()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._started = threading.Event()
        self.error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._run())
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc
        finally:
            self._loop.close()

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._started.set()
        await runner.run(self.settings, self._stop)

    def start(self) -> "InProcessProcessor":
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Set the stop event and wait for the graceful shutdown; re-raise what the processor raised."""
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the processor did not stop"
        if self.error is not None:
            raise self.error

    def __enter__(self) -> "InProcessProcessor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
