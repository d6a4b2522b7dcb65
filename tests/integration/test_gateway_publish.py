"""The real app with a real NATS (JetStream) and a real tenants database, in-process (Flask test client)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import nats
import pytest
from system_support import wait_for

from autentikapp.v1 import events_pb2
from cli.examples import TRANSACTION_CREATED
from common import bus, work_message
from gateway.app import close_app, create_app
from gateway.event_ids import content_digest, event_id
from gateway.publisher import Published, Publisher, PublishError
from gateway.signature import sign
from gateway.tenants import MIGRATIONS, TenantStore

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


def corrected(**transaction_changes) -> bytes:
    """The guide's example, same transaction_id, with transaction_data fields changed."""
    document = json.loads(EXAMPLE)
    document["transaction_data"].update(transaction_changes)
    return json.dumps(document).encode()


def test_a_correction_is_409_and_a_retry_stays_202_duplicate(gateway, nats_server):
    app, secret = gateway
    first = send(app, secret)
    assert first.status_code == 202, first.get_data(as_text=True)
    response = send(app, secret, corrected(line_items=[]))
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "transaction-conflict"
    assert response.get_json()["event_id"] == first.get_json()["event_id"]
    restamped = json.dumps({**json.loads(EXAMPLE), "event_timestamp": "2025-09-13T15:00:00Z"}).encode()
    for body in (EXAMPLE, restamped):
        again = send(app, secret, body)
        assert again.status_code == 202 and again.get_json()["duplicate"] is True, again.get_data(as_text=True)

    [message] = stored_messages(nats_server.url)
    event = events_pb2.WebhookEvent.FromString(message.data)
    assert event.raw_body == EXAMPLE, "the sale accepted first stands"
    assert message.headers[work_message.HEADER_CONTENT_DIGEST] == content_digest(event.sale)


def test_a_duplicate_is_acked_with_the_stored_sequence_whose_headers_read_back(nats_server):
    """What the 409 rests on, with a real JetStream: the PubAck of a duplicate names the sequence of the
    message stored first (not a new one), and reading that sequence gives the first message's headers."""
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)

        def publish(msg_id: str, digest: str) -> Published:
            headers = work_message.headers(msg_id, "t1", digest=digest)
            return publisher.publish("webhooks.inbound.t1", digest.encode(), headers, 2.0)

        assert publish("evt_a", "v1:aaaa") == Published(False, 1)
        assert publish("evt_b", "v1:bbbb") == Published(False, 2)
        assert publish("evt_a", "v1:cccc") == Published(True, 1), "the duplicate names the first message"
        assert publisher.stored_headers(1, 2.0) == {**work_message.headers("evt_a", "t1", digest="v1:aaaa"),
                                                    "Nats-Expected-Stream": bus.STREAM}
        assert publisher.stored_headers(2, 2.0)[work_message.HEADER_CONTENT_DIGEST] == "v1:bbbb"
        assert publisher.stored_headers(99, 2.0) is None, "no message at that sequence"
        assert [m.data for m in stored_messages(nats_server.url)] == [b"v1:aaaa", b"v1:bbbb"]

        async def delete_first():
            nc = await nats.connect(nats_server.url)
            await nc.jetstream().delete_msg(bus.STREAM, 1)
            await nc.close()

        asyncio.run(delete_first())
        # JetStream still drops the id within its window, naming the deleted message: nothing to compare
        assert publish("evt_a", "v1:dddd") == Published(True, 1)
        assert publisher.stored_headers(1, 2.0) is None, "a deleted message is gone, not an error"
    finally:
        publisher.close()
    with pytest.raises(PublishError):
        publisher.stored_headers(2, 1.0)


def test_reading_a_stored_message_that_cannot_be_read_is_a_publish_error(nats_server):
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        assert not publisher.publish("webhooks.inbound.t1", b"x", {work_message.HEADER_MSG_ID: "evt_x"}, 2.0).duplicate

        async def delete_stream():
            nc = await nats.connect(nats_server.url)
            await nc.jetstream().delete_stream(bus.STREAM)
            await nc.close()

        asyncio.run(delete_stream())
        with pytest.raises(PublishError, match="could not be read"):
            publisher.stored_headers(1, 2.0)
        with pytest.raises(PublishError, match="no time left"):
            publisher.stored_headers(1, 0.0)
    finally:
        publisher.close()


def test_publisher_fails_fast_while_nats_is_down_and_recovers_by_itself(nats_server):
    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        headers = {work_message.HEADER_MSG_ID: "evt_1"}
        assert publisher.publish("webhooks.inbound.t1", b"x", headers, 1.0) == Published(False, 1)
        nats_server.stop()
        started = time.monotonic()
        with pytest.raises(PublishError):
            publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_2"}, 1.0)
        assert time.monotonic() - started < 2.5
        assert not publisher.wait_connected(0.2)
        nats_server.start()
        assert publisher.wait_connected(15)
        assert publisher.publish("webhooks.inbound.t1", b"x", headers, 1.0) == Published(True, 1)  # the store kept evt_1
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

        def publish(n: int) -> Published:
            return publisher.publish(f"webhooks.inbound.t{n % 3}", f"m{n}".encode(), {work_message.HEADER_MSG_ID: f"evt_{n}"},
                                     2.0)

        with ThreadPoolExecutor(32) as pool:
            first = list(pool.map(publish, range(200)))
            again = list(pool.map(publish, range(0, 200, 10)))
    finally:
        publisher.close()
    assert [p.duplicate for p in first] == [False] * 200
    assert sorted(p.sequence for p in first) == list(range(1, 201)), "each its own PubAck"
    assert [p.duplicate for p in again] == [True] * 20
    assert [p.sequence for p in again] == [first[n].sequence for n in range(0, 200, 10)]
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
        assert not publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_after"}, 1.0).duplicate
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
        assert not publisher.publish("webhooks.inbound.t1", b"y", {work_message.HEADER_MSG_ID: "evt_ok"}, 1.0).duplicate
    finally:
        publisher.close()


def test_publishes_that_find_no_stream_together_share_one_creation(nats_server, monkeypatch):
    """Every publish answered "no responders" at once (no stream, or a leader being elected) waits for one
    stream creation rather than sending its own. The creation is held until all of them wait for it,
    so the count does not depend on timing."""
    release = threading.Event()
    creations = []
    real_ensure = bus.ensure_streams

    async def held_ensure(js, settings):
        creations.append(1)
        while not release.is_set():
            await asyncio.sleep(0.01)
        await real_ensure(js, settings)

    publisher = Publisher(bus_settings(nats_server.url)).start()
    try:
        assert publisher.wait_connected(10)
        wait_for(lambda: stream_exists(nats_server.url), what="the publisher's own creation at connect")
        asyncio.run(delete_stream_if_any(nats_server.url))  # gone, as after a server lost its data
        monkeypatch.setattr(bus, "ensure_streams", held_ensure)
        with ThreadPoolExecutor(6) as pool:
            results = [pool.submit(publisher.publish, bus.subject_for("t1"), f"sale {i}".encode(),
                                   {"Nats-Msg-Id": f"evt_{i}"}, 30) for i in range(6)]
            wait_for(lambda: len(publisher._in_flight) == 6 and not publisher._awaiting,  # noqa: SLF001
                     what="all six publishes answered 'no responders' and waiting on the creation")
            release.set()
            published = [r.result(timeout=30) for r in results]
    finally:
        publisher.close()
    assert creations == [1], "one creation for all six"
    assert sorted(p.sequence for p in published) == [1, 2, 3, 4, 5, 6] and not any(p.duplicate for p in published)


def stream_exists(url: str) -> bool:
    """True once the work stream exists."""
    async def check():
        nc = await nats.connect(url)
        try:
            return await bus.stream_exists(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(check())


async def delete_stream_if_any(url: str) -> None:
    """Remove the work stream (the publisher creates it when it connects)."""
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(bus.STREAM)
    except Exception:  # noqa: BLE001 - none yet
        pass
    finally:
        await nc.close()
