"""Guarantee 1: no 202 without durability.

2,000 signed webhooks at concurrency 32; NATS is SIGKILLed while they flow and started again a moment
later. Every answer is 202, 503 or a transport error (never another), and every event that got a 202
is later found processed: an acknowledged sale is never lost. The senders retry a 503 as the guide's
senders would, so the test also shows that a retry of a publish the gateway gave up on is stored once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from system_support import EXAMPLE, sign, wait_for

REQUESTS = 2000
CONCURRENCY = 32
TENANT = "durable"


def bodies() -> list[bytes]:
    template = json.loads(EXAMPLE.read_bytes())
    out = []
    for n in range(REQUESTS):
        template["transaction_data"]["transaction_id"] = f"D{n:05d}"
        template["customer_data"]["email"] = f"buyer{n % 400}@durable-tienda.co"
        template["customer_data"].pop("national_id", None)
        template["customer_data"].pop("phone_number", None)
        template["customer_data"].pop("whatsapp_number", None)
        template["transaction_data"]["line_items"] = [{"product_sku": "S", "quantity": 1, "unit_price": 1}]
        out.append(json.dumps(template).encode())
    return out


class Sender:
    """One keep-alive connection per thread; records (status or error, event id) per request."""

    def __init__(self, port: int, secret: str):
        self.port, self.secret = port, secret
        self.local = threading.local()
        self.sent = 0
        self.failed = 0  # answers other than 202
        self.lock = threading.Lock()

    def _conn(self) -> http.client.HTTPConnection:
        if getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        return self.local.conn

    def _attempt(self, body: bytes) -> tuple[str, str | None]:
        headers = {"Content-Type": "application/json", "X-Autentikapp-Signature": sign(self.secret, body)}
        try:
            conn = self._conn()
            conn.request("POST", f"/v1/webhooks/inbound/{TENANT}", body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read() or b"null")
            return str(response.status), answer.get("event_id") if response.status == 202 else None
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            return "transport-error", None

    def send(self, body: bytes) -> tuple[list[str], str | None]:
        """Send until 202 (at most 200 tries, 50 ms apart); return every answer seen and the event id."""
        answers: list[str] = []
        for _ in range(200):
            status, event_id = self._attempt(body)
            answers.append(status)
            if status == "202":
                break
            with self.lock:
                self.failed += 1
            time.sleep(0.05)
        with self.lock:
            self.sent += 1
        return answers, event_id


@pytest.mark.timeout(300)
def test_every_202_is_stored_even_when_nats_is_killed_mid_flight(rig):
    sut = rig.sut
    secret = sut.cli("tenants", "create", "--name", "Durable", "--id", TENANT)["secret"]
    sender = Sender(sut.ports["gateway"], secret)

    # The load runs in threads; the kill and the restart happen here, on the main thread: servers are
    # started with a parent-death signal that fires when the *thread* that started them ends.
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        pending = pool.map(sender.send, bodies())
        wait_for(lambda: sender.sent >= REQUESTS // 4, timeout=120, interval=0.01, what="a quarter of the webhooks sent")
        sut.nats.kill()
        # The outage lasts until it has met requests, however fast or slow they flow (a fixed duration could
        # end before any request arrived, or outlast the senders' retries).
        wait_for(lambda: sender.failed >= CONCURRENCY, timeout=120, interval=0.01, what="requests to meet the outage")
        sut.nats.start()
        results = list(pending)

    statuses: dict[str, int] = {}
    for answers, _ in results:
        for status in answers:
            statuses[status] = statuses.get(status, 0) + 1
    print(f"\nanswers to {REQUESTS} webhooks (with retries) with NATS killed mid-flight: {statuses}")
    assert set(statuses) <= {"202", "503", "transport-error"}, statuses
    assert statuses.get("503", 0) + statuses.get("transport-error", 0) > 0, "the fault never hit a request"
    assert all(answers[-1] == "202" for answers, _ in results), "every sale is accepted once NATS is back"

    accepted = {event_id for _, event_id in results}
    assert len(accepted) == REQUESTS
    deadline = time.monotonic() + 120
    missing = accepted
    while missing and time.monotonic() < deadline:
        with psycopg.connect(sut.env["PROCESSOR_DATABASE_URL"]) as conn:
            done = {row[0] for row in conn.execute("SELECT event_id FROM event_outcomes WHERE status = 'processed'")}
        missing = accepted - done
        time.sleep(0.5)
    if missing:
        state = bus_state(sut.nats.url)
        lost = missing - state.pop("stored")
        raise AssertionError(f"{len(missing)} events answered 202 were never processed ({len(lost)} of them are "
                             f"not in the stream); bus: {state}; e.g. {sorted(missing)[:3]}")
    state = bus_state(sut.nats.url)
    assert state["messages"] == REQUESTS, "each sale stored once, retries included"


def bus_state(nats_url: str) -> dict:
    """What the stream and the consumer hold: to tell a lost message from a stuck consumer."""
    import asyncio

    import nats

    from autentikapp.v1 import events_pb2
    from common import bus

    async def read() -> dict:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            info = await js.stream_info(bus.STREAM)
            consumer = await js.consumer_info(bus.STREAM, bus.CONSUMER)
            stored = set()
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(bus.STREAM, seq)
                except Exception:  # noqa: BLE001 - a deleted sequence
                    continue
                event = events_pb2.WebhookEvent()
                event.ParseFromString(msg.data)
                stored.add(event.event_id)
            return {"messages": info.state.messages, "stored": stored,
                    "pending": consumer.num_pending, "ack_pending": consumer.num_ack_pending,
                    "redelivered": consumer.num_redelivered, "delivered": consumer.delivered.stream_seq}
        finally:
            await nc.close()

    return asyncio.run(read())
