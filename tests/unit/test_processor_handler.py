"""One message from delivery to ack/nak/term, with fake messages, a fake JetStream and fake services:
the order of steps, the retry schedule, dead-lettering, and handing back on shutdown."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import grpc
import nats.errors
import pytest

from autentikapp.v1 import customer_pb2, events_pb2, identifier_pb2
from common import bus, dead_letter_message, domain_event_message, work_message
from common.errors import Unavailable
from processor.failures import RpcFailure
from processor.handler import MessageHandler, Policy
from processor.runner import consume, finish
from metrics_support import Counts

DELAYS = (1.0, 2.0, 5.0)


class FakeMsg:
    """A JetStream message that records how it was answered (in `log`, shared with the fakes)."""

    def __init__(self, log: list, data: bytes, *, subject: str = "webhooks.inbound.t1", deliveries: int = 1,
                 seq: int = 7, headers: dict | None = None) -> None:
        self.log = log
        self.data = data
        self.subject = subject
        self.headers = headers
        self.metadata = SimpleNamespace(num_delivered=deliveries, sequence=SimpleNamespace(stream=seq),
                                        stream=bus.STREAM)

    async def ack(self):
        self.log.append(("ack",))

    async def nak(self, delay=None):
        self.log.append(("nak", delay))

    async def term(self):
        self.log.append(("term",))

    async def in_progress(self):
        self.log.append(("in_progress",))


class FakeJetStream:
    def __init__(self, log: list, fail: Exception | None = None) -> None:
        self.log = log
        self.fail = fail
        self.published: list[dict] = []

    async def publish(self, subject, payload, timeout=None, stream=None, headers=None):
        if self.fail:
            raise self.fail
        self.published.append({"subject": subject, "data": payload, "stream": stream, "headers": headers})
        self.log.append(("dead_letter",) if stream == bus.DEAD_LETTER_STREAM else ("domain_event", subject))

    async def publish_effects(self, effects):
        """What processor.domain_events.EffectPublisher.publish sends, on this fake: each effect to the
        domain stream, in order (the first failure raised)."""
        for effect in effects:
            await self.publish(domain_event_message.subject_for(effect), effect.SerializeToString(),
                               stream=bus.DOMAIN_STREAM, headers=domain_event_message.headers(effect))


class FakeServiceCalls:
    def __init__(self, log: list, upsert_error: Exception | None = None, delay: float = 0.0) -> None:
        self.log = log
        self.upsert_error = upsert_error
        self.delay = delay

    async def upsert_customer(self, event):
        await asyncio.sleep(self.delay)
        if self.upsert_error:
            raise self.upsert_error
        self.log.append(("upsert",))
        return customer_pb2.UpsertCustomerResponse(customer=customer_pb2.Customer(id="c-1"), created=True)

    async def assign_identifiers(self, event, items, customer_id):
        self.log.extend(("assign", item.autentikapp_code) for item in items)
        return [identifier_pb2.AssignIdentifierResponse(outcome=identifier_pb2.ASSIGN_OUTCOME_ASSIGNED) for _ in items]


class FakeStore:
    def __init__(self, log: list, fail: Exception | None = None) -> None:
        self.log = log
        self.fail = fail
        self.recorded = []

    async def record(self, outcome):
        if self.fail:
            raise self.fail
        self.recorded.append(outcome)
        self.log.append(("record", outcome.status))


def event_bytes(event_id: str = "evt-1", tenant_id: str = "t1", code: str = "A") -> bytes:
    sale = events_pb2.Sale(line_items=[events_pb2.LineItem(product_sku="S", autentikapp_code=code)])
    return events_pb2.WebhookEvent(schema_version=1, event_id=event_id, tenant_id=tenant_id, sale=sale).SerializeToString()


def make(log, *, calls=None, js=None, store=None, max_deliver=5, heartbeat=60.0):
    calls = calls or FakeServiceCalls(log)
    js = js or FakeJetStream(log)
    store = store or FakeStore(log)
    policy = Policy(retry_delays=DELAYS, max_deliver=max_deliver, unexpected_max_deliveries=3,
                    heartbeat_seconds=heartbeat)
    return MessageHandler(js, calls, store.record, policy, publish_effects=js.publish_effects), js, store


def test_a_good_event_is_recorded_then_acked():
    log: list = []
    handler, js, store = make(log)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=2)))
    assert log == [("upsert",), ("assign", "A"), ("record", "processed"),
                   ("domain_event", "domain.identifier.linked.t1"), ("ack",)]
    assert store.recorded[0].deliveries == 2
    [linked] = js.published
    assert linked["stream"] == bus.DOMAIN_STREAM and linked["headers"][work_message.HEADER_MSG_ID] == "evt-1:A:linked"


def test_domain_events_that_cannot_be_published_nak_the_message_after_its_outcome_is_recorded():
    """The effects and the outcome are committed and idempotent: the redelivery records the same outcome
    and publishes the same domain events again, stored once by their message ids."""
    import nats.errors

    log: list = []
    handler, _, store = make(log, js=FakeJetStream(log, nats.errors.TimeoutError()))
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=1)))
    assert log == [("upsert",), ("assign", "A"), ("record", "processed"), ("nak", 1.0)]


@pytest.mark.parametrize("deliveries,delay", [(1, 1.0), (2, 2.0), (3, 5.0), (4, 5.0)])
def test_a_transient_failure_naks_with_the_scheduled_delay(deliveries, delay):
    log: list = []
    handler, _, store = make(log, calls=FakeServiceCalls(log, RpcFailure("UpsertCustomer", grpc.StatusCode.UNAVAILABLE)))
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=deliveries)))
    assert log == [("nak", delay)] and store.recorded == []


def test_an_outcome_store_that_is_down_naks_too_and_never_acks():
    log: list = []
    handler, _, _ = make(log, store=FakeStore(log, Unavailable("the database is unavailable")))
    asyncio.run(handler.handle(FakeMsg(log, event_bytes())))
    assert log[-1] == ("nak", 1.0) and ("ack",) not in log


def test_the_last_delivery_of_a_transient_failure_is_dead_lettered_not_dropped():
    log: list = []
    handler, js, store = make(log, calls=FakeServiceCalls(log, RpcFailure("UpsertCustomer", grpc.StatusCode.UNAVAILABLE)),
                              max_deliver=5)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=5, seq=42)))
    assert log == [("dead_letter",), ("record", "dead_lettered"), ("term",)]
    headers = js.published[0]["headers"]
    assert headers[dead_letter_message.HEADER_REASON] == "UpsertCustomer failed: UNAVAILABLE; gave up after 5 deliveries"
    assert headers[dead_letter_message.HEADER_DELIVERIES] == "5" and headers[work_message.HEADER_MSG_ID] == "evt-1:42"
    assert store.recorded[0].reason == headers[dead_letter_message.HEADER_REASON]


def test_a_permanent_failure_is_dead_lettered_at_once_and_termed_only_after_the_puback():
    log: list = []
    invalid = RpcFailure("UpsertCustomer", grpc.StatusCode.INVALID_ARGUMENT, "email is not valid: ana@x")
    handler, js, store = make(log, calls=FakeServiceCalls(log, invalid))
    msg = FakeMsg(log, event_bytes(), deliveries=1)
    asyncio.run(handler.handle(msg))
    assert log == [("dead_letter",), ("record", "dead_lettered"), ("term",)]
    published = js.published[0]
    assert (published["subject"], published["stream"], published["data"]) == (
        bus.dead_letter_subject_for("t1"), bus.DEAD_LETTER_STREAM, msg.data)
    assert published["headers"] == {
        work_message.HEADER_MSG_ID: "evt-1:7", dead_letter_message.HEADER_REASON: "UpsertCustomer failed: INVALID_ARGUMENT (email is not valid)",
        dead_letter_message.HEADER_ORIGINAL_SUBJECT: "webhooks.inbound.t1", dead_letter_message.HEADER_DELIVERIES: "1",
        work_message.HEADER_EVENT_ID: "evt-1", work_message.HEADER_TENANT_ID: "t1"}


def test_a_failed_dead_letter_publish_naks_and_terms_nothing():
    log: list = []
    handler, _, store = make(log, js=FakeJetStream(log, fail=nats.errors.TimeoutError()))
    asyncio.run(handler.handle(FakeMsg(log, b"not protobuf at all", deliveries=1)))
    assert log == [("nak", 1.0)] and store.recorded == []


def test_a_dead_letter_whose_outcome_cannot_be_recorded_is_retried_then_termed_on_the_last_delivery():
    log: list = []
    handler, js, _ = make(log, store=FakeStore(log, Unavailable("down")), max_deliver=3)
    asyncio.run(handler.handle(FakeMsg(log, b"\xff\xff", deliveries=1, headers={work_message.HEADER_EVENT_ID: "evt-9"})))
    assert log == [("dead_letter",), ("nak", 1.0)]
    log.clear()
    asyncio.run(handler.handle(FakeMsg(log, b"\xff\xff", deliveries=3, headers={work_message.HEADER_EVENT_ID: "evt-9"})))
    assert log == [("dead_letter",), ("term",)]
    assert {p["headers"][work_message.HEADER_MSG_ID] for p in js.published} == {"evt-9:7"}, "stored once by JetStream"


@pytest.mark.parametrize("data,subject,reason", [
    (b"not protobuf at all", "webhooks.inbound.t1", "not a WebhookEvent protobuf"),
    (event_bytes(event_id=""), "webhooks.inbound.t1", "event_id is missing"),
    (event_bytes(tenant_id=""), "webhooks.inbound.t1", "tenant_id is missing"),
    (event_bytes(tenant_id="a.b"), "webhooks.inbound.t1", "tenant_id is malformed"),
    (event_bytes(tenant_id="t2"), "webhooks.inbound.t1", "tenant_id does not match the message subject"),
    (events_pb2.WebhookEvent(schema_version=2, event_id="e", tenant_id="t1").SerializeToString(),
     "webhooks.inbound.t1", "unsupported schema_version 2"),
])
def test_messages_that_are_not_events_we_can_process_are_dead_lettered(data, subject, reason):
    log: list = []
    handler, js, _ = make(log)
    asyncio.run(handler.handle(FakeMsg(log, data, subject=subject)))
    assert log[0] == ("dead_letter",) and log[-1] == ("term",)
    assert js.published[0]["headers"][dead_letter_message.HEADER_REASON] == reason
    assert js.published[0]["subject"] == "webhooks.dead.t1"


def test_a_slow_message_is_kept_alive_with_in_progress():
    log: list = []
    handler, _, _ = make(log, calls=FakeServiceCalls(log, delay=0.35), heartbeat=0.1)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes())))
    assert log.count(("in_progress",)) >= 2 and log[-1] == ("ack",)


def test_a_message_cancelled_by_shutdown_is_handed_back_without_delay():
    log: list = []
    handler, _, _ = make(log, calls=FakeServiceCalls(log, delay=10))
    counts = Counts(("autentikapp_processor_messages_total", {"result": "handed_back"}))

    async def scenario():
        task = asyncio.create_task(handler.handle(FakeMsg(log, event_bytes())))
        await asyncio.sleep(0.05)
        return await finish({task}, grace_seconds=0.1)

    assert asyncio.run(scenario()) == (0, 1)
    assert log == [("nak", None)]
    assert counts.grown() == [1]


def messages(result: str) -> tuple[str, dict[str, str]]:
    """The key of one result of autentikapp_processor_messages_total."""
    return "autentikapp_processor_messages_total", {"result": result}


def test_a_processed_event_counts_its_result_line_items_latency_and_redelivery():
    log: list = []
    handler, _, _ = make(log)
    event = events_pb2.WebhookEvent.FromString(event_bytes())
    event.received_at.FromSeconds(int(time.time()) - 2)
    counts = Counts(messages("processed"), ("autentikapp_processor_line_items_total", {"outcome": "assigned"}),
                    ("autentikapp_processor_event_latency_seconds_count", {}),
                    ("autentikapp_processor_redeliveries_total", {}))
    latency_before = Counts.read("autentikapp_processor_event_latency_seconds_sum", {})
    asyncio.run(handler.handle(FakeMsg(log, event.SerializeToString(), deliveries=2)))
    assert counts.grown() == [1, 1, 1, 1]
    assert 2 <= Counts.read("autentikapp_processor_event_latency_seconds_sum", {}) - latency_before < 60


def test_failures_count_as_retry_or_dead_lettered_with_their_kind():
    log: list = []
    unavailable = FakeServiceCalls(log, RpcFailure("UpsertCustomer", grpc.StatusCode.UNAVAILABLE))
    counts = Counts(messages("retry"), messages("dead_lettered"), messages("processed"),
                    ("autentikapp_processor_dead_lettered_total", {"kind": "transient"}),
                    ("autentikapp_processor_dead_lettered_total", {"kind": "permanent"}),
                    ("autentikapp_processor_redeliveries_total", {}))
    handler, _, _ = make(log, calls=unavailable, max_deliver=5)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=1)))  # retried
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=5)))  # its last delivery
    poison_handler, _, _ = make(log)
    asyncio.run(poison_handler.handle(FakeMsg(log, b"not protobuf at all")))
    assert counts.grown() == [1, 2, 0, 1, 1, 1]


class FakeSubscription:
    """Hands out the queued messages in fetch-sized batches; times out when empty."""

    def __init__(self, messages: list) -> None:
        self.messages = messages
        self.batches: list[int] = []

    async def fetch(self, batch, timeout):
        if not self.messages:
            await asyncio.sleep(timeout)
            raise nats.errors.TimeoutError
        taken, self.messages = self.messages[:batch], self.messages[batch:]
        self.batches.append(len(taken))
        return taken


def test_the_loop_never_holds_more_than_the_concurrency_and_stops_fetching_on_stop():
    log: list = []
    in_flight = most = 0

    async def handle(msg):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        log.append(msg)

    async def scenario():
        stop = asyncio.Event()
        subscription = FakeSubscription(list(range(25)))
        loop_task = asyncio.create_task(consume(subscription, handle, batch_size=10, concurrency=4,
                                                fetch_timeout=0.05, stop=stop))
        while len(log) < 25:
            await asyncio.sleep(0.01)
        stop.set()
        left = await loop_task
        return subscription, left

    subscription, left = asyncio.run(scenario())
    assert most <= 4 and max(subscription.batches) <= 4
    assert sorted(log) == list(range(25)) and not left


def make_with_reserve(log, *, js=None, max_deliver=5, reserve=2):
    """A handler whose consumer allows `reserve` deliveries beyond the processor's last attempt."""
    js = js or FakeJetStream(log)
    store = FakeStore(log)
    policy = Policy(retry_delays=DELAYS, max_deliver=max_deliver, unexpected_max_deliveries=3,
                    heartbeat_seconds=60.0, consumer_max_deliver=max_deliver + reserve)
    handler = MessageHandler(js, FakeServiceCalls(log), store.record, policy, publish_effects=js.publish_effects)
    return handler, js, store


def test_a_delivery_after_the_last_attempt_is_dead_lettered_without_being_processed():
    """The last attempt did not settle it (the processor was killed in its middle): the reserve delivery
    copies it to the dead-letter stream and terms it, and runs nothing again (it might crash again)."""
    log: list = []
    handler, js, store = make_with_reserve(log)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=6)))
    assert ("upsert",) not in log and log[-1] == ("term",)
    [dead] = [p for p in js.published if p["subject"].startswith("webhooks.dead.")]
    assert store.recorded[0].status == "dead_lettered" and "its last attempt (delivery 5)" in store.recorded[0].reason


def test_a_dead_letter_publish_that_fails_on_the_last_attempt_is_retried_in_the_reserve():
    """Before the reserve, a failed dead-letter copy on the last delivery left the message to be dropped by
    JetStream; now it is nak'ed for a reserve delivery, and only the final one gives up."""
    import nats.errors

    log: list = []
    poison = FakeServiceCalls(log, RpcFailure("UpsertCustomer", grpc.StatusCode.INVALID_ARGUMENT))
    failing = FakeJetStream(log, nats.errors.TimeoutError())
    policy = Policy(retry_delays=DELAYS, max_deliver=5, unexpected_max_deliveries=3, heartbeat_seconds=60.0,
                    consumer_max_deliver=7)
    handler = MessageHandler(failing, poison, FakeStore(log).record, policy, publish_effects=failing.publish_effects)
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=5)))
    assert log[-1][0] == "nak"
    log.clear()
    asyncio.run(handler.handle(FakeMsg(log, event_bytes(), deliveries=7)))  # the final delivery
    assert log == [], "nothing more can be done: it is left, and logged as an error"
