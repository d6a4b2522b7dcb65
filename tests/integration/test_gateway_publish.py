"""The real app with a real NATS (JetStream) and a real tenants database, in-process (Flask test client)."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import nats
import pytest

from autentikapp.v1 import events_pb2
from cli.examples import TRANSACTION_CREATED
from common import bus, work_message
from gateway.app import close_app, create_app
from gateway.event_ids import event_id
from gateway.publisher import Publisher, PublishError
from gateway.signature import sign
from gateway.tenants import MIGRATIONS, TenantStore
from system_support import wait_for

EXAMPLE = TRANSACTION_CREATED.read_bytes()


def bus_settings(url: str) -> bus.BusSettings:
    return bus.BusSettings(url=url, duplicate_window_seconds=3600, max_age_seconds=3600, replicas=1,
                           max_deliver=5, ack_wait_seconds=30)


def stored_messages(url: str) -> list:
    """Every message in the WEBHOOKS stream (subject, headers, data)."""

    async def read():
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(bus.STREAM)).state
            return [await js.get_msg(bus.STREAM, seq) for seq in range(state.first_seq, state.last_seq + 1)
                    if state.messages]
        finally:
            await nc.close()

    return asyncio.run(read())


@pytest.fixture
def gateway(nats_server, database_factory, keyring):
    """(app, secret) with a real publisher and store; tenant `acme` exists."""
    store = TenantStore.open(database_factory("gateway", MIGRATIONS), keyring=keyring)
    _, secret = store.create_tenant("Acme", "acme")
    publisher = Publisher(bus_settings(nats_server.url)).start()
    assert publisher.wait_connected(10)
    app = create_app({"SECRET_CACHE_SECONDS": 0, "PUBLISH_TIMEOUT_SECONDS": 1}, tenant_store=store,
                     publisher=publisher)
    yield app, secret.secret
    close_app(app)


def send(app, secret: str, body: bytes = EXAMPLE):
    return app.test_client().post("/v1/webhooks/inbound/acme", data=body, headers={
        "Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, body)})


def test_an_accepted_webhook_is_in_the_stream_with_the_contract_headers(gateway, nats_server):
    app, secret = gateway
    response = send(app, secret)
    assert response.status_code == 202, response.get_data(as_text=True)
    expected_id = event_id("acme", "transaction.created", "FACT-00123")
    assert response.get_json() == {"event_id": expected_id, "status": "accepted", "duplicate": False}

    [message] = stored_messages(nats_server.url)
    assert message.subject == "webhooks.inbound.acme"
    assert message.headers[work_message.HEADER_MSG_ID] == expected_id
    assert message.headers[work_message.HEADER_EVENT_ID] == expected_id
    assert message.headers[work_message.HEADER_TENANT_ID] == "acme"
    event = events_pb2.WebhookEvent.FromString(message.data)
    assert (event.schema_version, event.event_id, event.tenant_id) == (1, expected_id, "acme")
    assert event.raw_body == EXAMPLE
    assert event.sale.customer.email == "cliente@email.com"
    assert [i.autentikapp_code for i in event.sale.line_items] == ["a1b2c3d4-e5f6-7890-1234-567890abcdef"]
    assert abs(event.received_at.ToSeconds() - time.time()) < 60


def test_the_same_webhook_five_times_is_one_message(gateway, nats_server):
    app, secret = gateway
    answers = [send(app, secret).get_json() for _ in range(5)]
    assert len({a["event_id"] for a in answers}) == 1
    assert [a["duplicate"] for a in answers] == [False, True, True, True, True]
    assert len(stored_messages(nats_server.url)) == 1


def test_the_same_webhook_five_times_concurrently_is_one_message(gateway, nats_server):
    app, secret = gateway
    body = json.dumps({**json.loads(EXAMPLE), "transaction_data": {
        **json.loads(EXAMPLE)["transaction_data"], "transaction_id": "CONCURRENT-1"}}).encode()
    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: send(app, secret, body), range(5)))
    assert [r.status_code for r in responses] == [202] * 5
    answers = [r.get_json() for r in responses]
    assert len({a["event_id"] for a in answers}) == 1
    assert sorted(a["duplicate"] for a in answers) == [False, True, True, True, True]
    assert len(stored_messages(nats_server.url)) == 1


def test_a_deleted_stream_is_recreated_by_the_next_publish(gateway, nats_server):
    app, secret = gateway

    async def delete_stream():
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().delete_stream(bus.STREAM)
        await nc.close()

    asyncio.run(delete_stream())
    response = send(app, secret)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert len(stored_messages(nats_server.url)) == 1


def test_publisher_fails_fast_while_nats_is_down_and_recovers_by_itself(nats_server):
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        headers = {work_message.HEADER_MSG_ID: "evt_1"}
        assert publisher.publish("webhooks.inbound.t1", b"x", headers, 1.0) is False
        nats_server.stop()
        started = time.monotonic()
        with pytest.raises(PublishError):
            publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_2"}, 1.0)
        assert time.monotonic() - started < 2.5
        assert not publisher.wait_connected(0.2)
        nats_server.start()
        assert publisher.wait_connected(15)
        assert publisher.publish("webhooks.inbound.t1", b"x", headers, 1.0) is True  # the store kept evt_1
    finally:
        publisher.close()
    assert not publisher.is_connected()
    with pytest.raises(PublishError):
        publisher.publish("webhooks.inbound.t1", b"x", headers, 1.0)


def test_many_threads_publishing_at_once_each_get_their_own_ack(nats_server):
    """The hand-off to the loop is batched: every thread still gets the PubAck of its own message."""
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)

        def publish(n: int) -> bool:
            return publisher.publish(f"webhooks.inbound.t{n % 3}", f"m{n}".encode(), {work_message.HEADER_MSG_ID: f"evt_{n}"},
                                     2.0)

        with ThreadPoolExecutor(32) as pool:
            first = list(pool.map(publish, range(200)))
            again = list(pool.map(publish, range(0, 200, 10)))
    finally:
        publisher.close()
    assert first == [False] * 200
    assert again == [True] * 20
    assert sorted(m.data for m in stored_messages(nats_server.url)) == sorted(f"m{n}".encode() for n in range(200))


class SilentResponder:
    """A core NATS subscriber on a subject outside the stream that never answers: a publish to it gets no
    PubAck, as when JetStream is too slow."""

    def __init__(self, url: str, subject: str):
        self.url, self.subject = url, subject

    def __enter__(self):
        self.loop = asyncio.new_event_loop()
        self.nc = self.loop.run_until_complete(nats.connect(self.url))
        self.loop.run_until_complete(self.nc.subscribe(self.subject, cb=self._ignore))
        self.loop.run_until_complete(self.nc.flush())
        return self

    async def _ignore(self, msg) -> None:
        """Receive and say nothing."""

    def __exit__(self, *exc):
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()


def test_no_ack_in_time_is_a_publish_error_after_the_timeout_and_leaves_nothing_pending(nats_server):
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        with SilentResponder(nats_server.url, "silent.x"):
            started = time.monotonic()
            with pytest.raises(PublishError, match="did not acknowledge within 0.3s"):
                publisher.publish("silent.x", b"x", {work_message.HEADER_MSG_ID: "evt_silent"}, 0.3)
            assert 0.25 < time.monotonic() - started < 1.5
            deadline = time.monotonic() + 2
            while (publisher._in_flight or publisher._awaiting) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not publisher._in_flight and not publisher._awaiting
        assert publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_after"}, 1.0) is False
    finally:
        publisher.close()


def test_closing_the_publisher_fails_a_waiting_publish_at_once(nats_server):
    publisher = Publisher(bus_settings(nats_server.url)).start()
    assert publisher.wait_connected(10)
    with SilentResponder(nats_server.url, "silent.y"), ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(publisher.publish, "silent.y", b"x", {work_message.HEADER_MSG_ID: "evt_closing"}, 10.0)
        wait_for(lambda: publisher._awaiting, what="the publish to wait for its PubAck")
        started = time.monotonic()
        publisher.close()
        with pytest.raises(PublishError, match="closing"):
            waiting.result(timeout=5)
        assert time.monotonic() - started < 5


def test_an_error_answer_from_jetstream_is_a_publish_error(nats_server):
    """The PubAck is read as nats-py's js.publish reads it: an error answer (here: the subject belongs to
    another stream than the expected WEBHOOKS) fails the publish."""

    async def other_stream():
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().add_stream(name="OTHER", subjects=["other.>"])
        await nc.close()

    asyncio.run(other_stream())
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        with pytest.raises(PublishError, match="expected stream does not match"):
            publisher.publish("other.x", b"x", {work_message.HEADER_MSG_ID: "evt_other"}, 1.0)
        assert publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_ok"}, 1.0) is False
    finally:
        publisher.close()
