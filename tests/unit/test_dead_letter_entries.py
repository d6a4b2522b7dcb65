"""The dead-letter stream's operator side with a fake JetStream: the replay's message id and headers,
reading entries, publish-then-delete, and what a replay does when an entry or NATS misbehaves."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timezone
from types import SimpleNamespace

import nats.errors
import pytest
from nats.js.api import PubAck, RawStreamMsg
from nats.js.errors import NotFoundError, ServerError

from common import bus, dead_letter_message, work_message
from common.errors import NotFound
from common.work_message import Identity
from processor import dead_letter_admin, dead_lettering, messages

WHEN = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)


def raw(seq: int, data: bytes | None = b"payload", *, tenant: str = "t1", event_id: str = "evt_1",
        subject: str | None = None, **extra: str) -> RawStreamMsg:
    """A dead-letter entry as processor/dead_lettering.py writes it (extra: headers to add or override)."""
    headers = {
        work_message.HEADER_MSG_ID: f"{event_id or 'unknown'}:{seq}",
        dead_letter_message.HEADER_REASON: "UpsertCustomer failed: INVALID_ARGUMENT (email is not a valid e-mail address)",
        dead_letter_message.HEADER_ORIGINAL_SUBJECT: bus.subject_for(tenant),
        dead_letter_message.HEADER_DELIVERIES: "1",
        work_message.HEADER_EVENT_ID: event_id,
        work_message.HEADER_TENANT_ID: tenant,
        **extra,
    }
    return RawStreamMsg(subject=subject or bus.dead_letter_subject_for(tenant), seq=seq, data=data,
                        headers={k: v for k, v in headers.items() if v}, time=WHEN)


def not_found(err_code: int) -> NotFoundError:
    return NotFoundError(code=404, err_code=err_code, description="not found")


class FakeJetStream:
    """The dead-letter stream in a dict, and the calls replay makes, in order, in `log`."""

    def __init__(self, *entries: RawStreamMsg, exists: bool = True) -> None:
        self.dead = {entry.seq: entry for entry in entries}
        self.exists = exists
        self.log: list[tuple] = []
        self.published: list[dict] = []
        self.seen_ids: dict[str, int] = {}
        self.publish_error: Exception | None = None
        self.delete_error: Exception | None = None

    async def get_msg(self, stream, seq=None, subject=None, direct=False, next=False):
        assert (stream, next) == (bus.DEAD_LETTER_STREAM, True)
        if not self.exists:
            raise not_found(dead_letter_admin.STREAM_NOT_FOUND)
        for number in sorted(self.dead):
            entry = self.dead[number]
            matches = entry.subject.startswith(subject[:-1]) if subject.endswith(">") else entry.subject == subject
            if number >= seq and matches:
                return entry
        raise not_found(dead_letter_admin.NO_MESSAGE)

    async def stream_info(self, stream):
        if not self.exists:
            raise not_found(dead_letter_admin.STREAM_NOT_FOUND)
        return SimpleNamespace(state=SimpleNamespace(last_seq=max(self.dead, default=0)))

    async def publish(self, subject, payload, timeout=None, stream=None, headers=None):
        self.log.append(("publish", headers[work_message.HEADER_MSG_ID]))
        if self.publish_error:
            raise self.publish_error
        msg_id = headers[work_message.HEADER_MSG_ID]
        duplicate = msg_id in self.seen_ids
        if not duplicate:
            self.published.append({"subject": subject, "data": payload, "stream": stream, "headers": headers})
            self.seen_ids[msg_id] = len(self.published)
        return PubAck(stream=bus.STREAM, seq=self.seen_ids[msg_id], duplicate=duplicate or None)

    async def delete_msg(self, stream, seq):
        self.log.append(("delete", seq))
        if self.delete_error:
            raise self.delete_error
        if self.dead.pop(seq, None) is None:
            raise ServerError(code=500, err_code=dead_letter_admin.DELETE_FAILED, description="no message found")
        return True


def entry(**kwargs) -> dead_letter_admin.DeadLetter:
    return dead_letter_admin.DeadLetter.from_raw(raw(**{"seq": 5, **kwargs}))


async def collect(generator) -> list:
    return [item async for item in generator]


# --- the replay's message id and headers ------------------------------------------------------------


def test_replay_id_is_per_dead_letter_entry_and_never_the_event_id():
    assert work_message.replay_msg_id("evt_abc", 12) == "evt_abc:replay:12"
    assert work_message.replay_msg_id("", 3) == "unknown:replay:3"
    assert work_message.replay_msg_id("evt_abc", 12) != work_message.replay_msg_id("evt_abc", 13)
    assert work_message.is_replay_msg_id("evt_abc:replay:12")
    assert not work_message.is_replay_msg_id("evt_abc") and not work_message.is_replay_msg_id("evt_abc:12")


def test_replay_headers_carry_the_ids_and_count_the_replays():
    assert dead_letter_admin.replay_headers(entry(event_id="evt_1")) == {
        work_message.HEADER_MSG_ID: "evt_1:replay:5", work_message.HEADER_EVENT_ID: "evt_1", work_message.HEADER_TENANT_ID: "t1",
        work_message.HEADER_REPLAYS: "1",
    }
    again = dead_letter_admin.replay_headers(entry(event_id="evt_1", **{work_message.HEADER_REPLAYS: "2"}))
    assert again[work_message.HEADER_REPLAYS] == "3"


def test_replay_headers_of_an_unreadable_message_name_no_event():
    headers = dead_letter_admin.replay_headers(entry(event_id=""))
    assert headers == {work_message.HEADER_MSG_ID: "unknown:replay:5", work_message.HEADER_TENANT_ID: "t1", work_message.HEADER_REPLAYS: "1"}


def test_a_replay_carries_the_content_digest_of_the_sale_it_holds():
    from autentikapp.v1 import events_pb2
    from gateway.event_ids import content_digest

    sale = events_pb2.Sale(event_type="transaction.created", transaction_id="FACT-1", total_amount="10.00",
                           line_items=[events_pb2.LineItem(quantity=1, autentikapp_code="CODE-1")])
    event = events_pb2.WebhookEvent(schema_version=1, event_id="evt_1", tenant_id="t1", sale=sale, raw_body=b"{}")
    headers = dead_letter_admin.replay_headers(entry(event_id="evt_1", data=event.SerializeToString()))
    assert headers[work_message.HEADER_CONTENT_DIGEST] == content_digest(sale)
    # bytes that are not this entry's event (another event's, or not an event at all) get none
    other = events_pb2.WebhookEvent(event_id="evt_2", sale=sale).SerializeToString()
    for data in (other, b"\xff\xff not protobuf", b""):
        assert work_message.HEADER_CONTENT_DIGEST not in dead_letter_admin.replay_headers(
            entry(event_id="evt_1", data=data))


def test_a_replay_id_is_not_taken_for_an_event_id_by_the_processor():
    def msg(headers):
        return SimpleNamespace(subject="webhooks.inbound.t1", headers=headers)

    assert messages.identity(msg({work_message.HEADER_MSG_ID: "unknown:replay:5"})) == Identity("", "t1")
    assert messages.identity(msg({work_message.HEADER_MSG_ID: "evt_1:replay:5", work_message.HEADER_EVENT_ID: "evt_1"})) == Identity(
        "evt_1", "t1")
    assert messages.identity(msg({work_message.HEADER_MSG_ID: "evt_2"})) == Identity("evt_2", "t1"), "unchanged otherwise"


@pytest.mark.parametrize("value, kept", [("1", "1"), ("7", "7"), ("0", ""), ("-1", ""), ("x", ""), ("１", ""),
                                          (None, "")])
def test_a_dead_letter_copy_keeps_a_valid_replay_count(value, kept):
    msg = SimpleNamespace(subject="webhooks.inbound.t1", headers={work_message.HEADER_REPLAYS: value} if value else None,
                          metadata=SimpleNamespace(sequence=SimpleNamespace(stream=9)))
    headers = dead_lettering.headers_for(msg, Identity("evt_1", "t1"), "reason", 1)
    assert headers.get(work_message.HEADER_REPLAYS, "") == kept
    assert headers[work_message.HEADER_MSG_ID] == "evt_1:9"


# --- reading entries ----------------------------------------------------------------------------


def test_an_entry_is_read_from_its_headers():
    read = entry(event_id="evt_1", **{dead_letter_message.HEADER_DELIVERIES: "3"})
    assert read.as_dict() == {
        "sequence": 5, "event_id": "evt_1", "tenant_id": "t1",
        "reason": "UpsertCustomer failed: INVALID_ARGUMENT (email is not a valid e-mail address)",
        "deliveries": 3, "original_subject": "webhooks.inbound.t1", "dead_lettered_at": "2025-09-13T14:30:00+00:00",
        "replayed": False, "replays": 0, "size": 7,
    }
    assert read.data == b"payload"


def test_an_entry_with_missing_or_malformed_headers_still_reads():
    bare = dead_letter_admin.DeadLetter.from_raw(RawStreamMsg(subject="webhooks.dead.t2", seq=4, data=None, headers=None))
    assert (bare.event_id, bare.tenant_id, bare.reason, bare.deliveries, bare.replays, bare.data) == (
        "", "t2", "", None, 0, b"")
    unknown = dead_letter_admin.DeadLetter.from_raw(RawStreamMsg(subject="webhooks.dead.unknown", seq=4, headers={
        dead_letter_message.HEADER_DELIVERIES: "many", work_message.HEADER_REPLAYS: "2"}))
    assert (unknown.tenant_id, unknown.deliveries, unknown.replayed) == ("", None, True)


def test_entries_are_read_in_order_across_deleted_sequences_and_by_tenant():
    js = FakeJetStream(raw(1, tenant="t1"), raw(3, tenant="t2"), raw(4, tenant="t1"), raw(9, tenant="t1"))
    assert [e.sequence for e in asyncio.run(collect(dead_letter_admin.entries(js)))] == [1, 3, 4, 9]
    assert [e.sequence for e in asyncio.run(collect(dead_letter_admin.entries(js, tenant_id="t1")))] == [1, 4, 9]
    assert [e.sequence for e in asyncio.run(collect(dead_letter_admin.entries(js, up_to=4)))] == [1, 3, 4]
    assert js.log == [], "reading changes nothing"


def test_no_dead_letter_stream_yet_means_no_entries():
    js = FakeJetStream(exists=False)
    assert asyncio.run(collect(dead_letter_admin.entries(js))) == []
    assert asyncio.run(dead_letter_admin.last_sequence(js)) == 0


# --- replaying ----------------------------------------------------------------------------------


def test_replay_publishes_the_original_bytes_then_deletes_the_entry():
    js = FakeJetStream(raw(5, b"\x00original bytes"))
    done = asyncio.run(dead_letter_admin.replay_entry(js, dead_letter_admin.DeadLetter.from_raw(js.dead[5]), timeout=2))
    assert js.log == [("publish", "evt_1:replay:5"), ("delete", 5)]
    [published] = js.published
    assert published == {"subject": "webhooks.inbound.t1", "data": b"\x00original bytes", "stream": bus.STREAM,
                         "headers": {work_message.HEADER_MSG_ID: "evt_1:replay:5", work_message.HEADER_EVENT_ID: "evt_1",
                                     work_message.HEADER_TENANT_ID: "t1", work_message.HEADER_REPLAYS: "1"}}
    assert done.as_dict() == {"sequence": 5, "event_id": "evt_1", "tenant_id": "t1", "subject": "webhooks.inbound.t1",
                              "msg_id": "evt_1:replay:5", "work_sequence": 1, "duplicate": False}
    assert js.dead == {}


def test_a_replay_that_failed_before_the_delete_is_stored_once_when_repeated():
    js = FakeJetStream(raw(5))
    stored = dead_letter_admin.DeadLetter.from_raw(js.dead[5])
    js.delete_error = nats.errors.TimeoutError()
    with pytest.raises(nats.errors.TimeoutError):
        asyncio.run(dead_letter_admin.replay_entry(js, stored, timeout=2))
    assert 5 in js.dead, "still listed"

    js.delete_error = None
    again = asyncio.run(dead_letter_admin.replay_entry(js, stored, timeout=2))
    assert again.duplicate is True and again.work_sequence == 1
    assert len(js.published) == 1 and js.dead == {}


def test_an_entry_deleted_meanwhile_counts_as_replayed():
    js = FakeJetStream(raw(5))
    stored = dead_letter_admin.DeadLetter.from_raw(js.dead.pop(5))  # another operator's replay removed it
    done = asyncio.run(dead_letter_admin.replay_entry(js, stored, timeout=2))
    assert done.msg_id == "evt_1:replay:5" and js.log == [("publish", "evt_1:replay:5"), ("delete", 5)]

    js.delete_error = ServerError(code=500, err_code=10071, description="wrong last sequence")
    with pytest.raises(ServerError):
        asyncio.run(dead_letter_admin.replay_entry(js, stored, timeout=2))


def test_a_failed_publish_deletes_nothing():
    js = FakeJetStream(raw(5))
    js.publish_error = nats.errors.TimeoutError()
    with pytest.raises(nats.errors.TimeoutError):
        asyncio.run(dead_letter_admin.replay_entry(js, dead_letter_admin.DeadLetter.from_raw(js.dead[5]), timeout=2))
    assert js.log == [("publish", "evt_1:replay:5")] and 5 in js.dead


@pytest.mark.parametrize("subject", ["", "webhooks.dead.t1", "webhooks.inbound.a.b", "webhooks.inbound.>", "other.t1"])
def test_an_entry_is_only_replayed_to_a_work_subject(subject):
    with pytest.raises(dead_letter_admin.ReplayRefused):
        dead_letter_admin.replay_subject(dataclasses.replace(entry(), original_subject=subject))
    assert dead_letter_admin.replay_subject(entry()) == "webhooks.inbound.t1"


def test_replay_all_skips_a_refused_entry_and_stops_on_a_nats_failure():
    js = FakeJetStream(raw(1, event_id="evt_a"), raw(2, event_id="evt_b", **{dead_letter_message.HEADER_ORIGINAL_SUBJECT: "x.y"}),
                       raw(3, event_id="evt_c"))
    report = asyncio.run(dead_letter_admin.replay_all(js, dead_letter_admin.entries(js), timeout=2))
    assert [r.entry.event_id for r in report.replayed] == ["evt_a", "evt_c"]
    assert [(r.entry.sequence, r.entry.event_id) for r in report.refused] == [(2, "evt_b")]
    assert report.error is None and set(js.dead) == {2}

    js = FakeJetStream(raw(1, event_id="evt_a"), raw(2, event_id="evt_b"))
    js.publish_error = nats.errors.TimeoutError()
    report = asyncio.run(dead_letter_admin.replay_all(js, dead_letter_admin.entries(js), timeout=2))
    assert report.replayed == [] and "stopped at dead letter 1" in report.error
    assert set(js.dead) == {1, 2} and len(js.log) == 1, "the run stops at the first failure"


def test_unknown_event_ids_are_not_found_and_nothing_is_replayed():
    js = FakeJetStream(raw(1, event_id="evt_a"), raw(2, event_id="evt_b"))
    with pytest.raises(NotFound, match="no dead letter for events evt_x, evt_y"):
        asyncio.run(dead_letter_admin.find(js, ["evt_a", "evt_x", "evt_y"]))
    with pytest.raises(NotFound, match="of tenant t2 for event evt_a"):
        asyncio.run(dead_letter_admin.find(js, ["evt_a"], tenant_id="t2"))
    assert [e.sequence for e in asyncio.run(dead_letter_admin.find(js, ["evt_b", "evt_b"]))] == [2]
    assert js.log == []
