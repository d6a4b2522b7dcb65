"""Processing one event with fake services: the outcome mapping, skipped items, concurrency within an
event, and which failure wins when several calls fail."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from autentikapp.v1 import customer_pb2, events_pb2, identifier_pb2
from processor.failures import RpcFailure, UnexpectedAnswer
from processor.work import line_item_outcome, process_event

EVENT_ID = "evt-1"
OUTCOME = identifier_pb2


def answer(outcome: int, event_id: str = "evt-other") -> identifier_pb2.AssignIdentifierResponse:
    return identifier_pb2.AssignIdentifierResponse(outcome=outcome, identifier=identifier_pb2.Identifier(event_id=event_id))


@pytest.mark.parametrize("outcome,stored_event,expected", [
    (OUTCOME.ASSIGN_OUTCOME_ASSIGNED, EVENT_ID, "assigned"),
    (OUTCOME.ASSIGN_OUTCOME_ALREADY_ASSIGNED, "evt-other", "already_assigned"),
    (OUTCOME.ASSIGN_OUTCOME_ALREADY_ASSIGNED, EVENT_ID, "assigned"),  # assigned by an earlier delivery of this event
    (OUTCOME.ASSIGN_OUTCOME_CONFLICT, "evt-other", "conflict"),
    (OUTCOME.ASSIGN_OUTCOME_CONFLICT, EVENT_ID, "conflict"),
    (OUTCOME.ASSIGN_OUTCOME_UNKNOWN_CODE, "", "unknown_code"),
])
def test_line_item_outcome(outcome, stored_event, expected):
    assert line_item_outcome(answer(outcome, stored_event), EVENT_ID) == expected


@pytest.mark.parametrize("outcome", [OUTCOME.ASSIGN_OUTCOME_UNSPECIFIED, 42])
def test_an_outcome_this_processor_does_not_know_is_unexpected(outcome):
    with pytest.raises(UnexpectedAnswer):
        line_item_outcome(answer(outcome), EVENT_ID)


def event(*codes: str) -> events_pb2.WebhookEvent:
    items = [events_pb2.LineItem(product_sku=f"SKU-{i}", autentikapp_code=code) for i, code in enumerate(codes)]
    return events_pb2.WebhookEvent(event_id=EVENT_ID, tenant_id="t1", sale=events_pb2.Sale(line_items=items))


class FakeServiceCalls:
    """Answers by code: an AssignOutcome value, or an exception for that item. Records the calls."""

    def __init__(self, answers: dict[str, object], *, created: bool = True) -> None:
        self.answers = answers
        self.created = created
        self.calls: list[list[str]] = []
        self.assigned_to: list[tuple[str, str]] = []

    async def upsert_customer(self, event):
        return customer_pb2.UpsertCustomerResponse(
            customer=customer_pb2.Customer(id="c-1"), created=self.created,
            clashes=[customer_pb2.Clash(field="email", other_customer_id="c-9")])

    async def assign_identifiers(self, event, items, customer_id):
        self.calls.append([item.autentikapp_code for item in items])
        await asyncio.sleep(0.01)
        results = []
        for item in items:
            self.assigned_to.append((item.autentikapp_code, customer_id))
            result = self.answers[item.autentikapp_code]
            results.append(result if isinstance(result, BaseException) else answer(result))
        return results


def test_each_item_gets_its_outcome_in_sale_order_and_all_codes_go_in_one_call():
    services = FakeServiceCalls({"A": OUTCOME.ASSIGN_OUTCOME_ASSIGNED, "B": OUTCOME.ASSIGN_OUTCOME_CONFLICT,
                             "C": OUTCOME.ASSIGN_OUTCOME_UNKNOWN_CODE})
    outcome = asyncio.run(process_event(event("", "A", "B", "", "C"), services))
    assert [(i.index, i.code, i.product_sku, i.outcome) for i in outcome.line_items] == [
        (0, "", "SKU-0", "skipped"), (1, "A", "SKU-1", "assigned"), (2, "B", "SKU-2", "conflict"),
        (3, "", "SKU-3", "skipped"), (4, "C", "SKU-4", "unknown_code")]
    assert services.calls == [["A", "B", "C"]]
    assert sorted(services.assigned_to) == [("A", "c-1"), ("B", "c-1"), ("C", "c-1")]
    assert (outcome.status, outcome.customer_id, outcome.customer_created) == ("processed", "c-1", True)
    assert outcome.clashes == [{"field": "email", "other_customer_id": "c-9"}]
    assert outcome.counts() == {"assigned": 1, "conflict": 1, "unknown_code": 1, "skipped": 2}


def test_an_event_without_codes_only_upserts_the_customer():
    services = FakeServiceCalls({})
    outcome = asyncio.run(process_event(event("", ""), services))
    assert [i.outcome for i in outcome.line_items] == ["skipped", "skipped"] and services.assigned_to == []


def test_when_several_calls_fail_the_worst_is_raised_after_all_finished():
    invalid = RpcFailure("AssignIdentifier", grpc.StatusCode.INVALID_ARGUMENT)
    services = FakeServiceCalls({"A": RpcFailure("AssignIdentifier", grpc.StatusCode.UNAVAILABLE), "B": invalid,
                             "C": OUTCOME.ASSIGN_OUTCOME_ASSIGNED})
    with pytest.raises(RpcFailure) as raised:
        asyncio.run(process_event(event("A", "B", "C"), services))
    assert raised.value is invalid
    assert len(services.assigned_to) == 3


def test_a_customer_without_id_is_an_unexpected_answer():
    class NoId(FakeServiceCalls):
        async def upsert_customer(self, event):
            return customer_pb2.UpsertCustomerResponse()

    with pytest.raises(UnexpectedAnswer):
        asyncio.run(process_event(event("A"), NoId({})))



def test_a_sale_with_many_codes_asks_for_them_in_one_call():
    """Every coded item of a sale is handed over at once (the client batches them), in sale order."""
    codes = [f"C{i}" for i in range(40)]
    services = FakeServiceCalls({code: OUTCOME.ASSIGN_OUTCOME_ASSIGNED for code in codes})
    outcome = asyncio.run(process_event(event(*codes), services))
    assert services.calls == [codes]
    assert [i.outcome for i in outcome.line_items] == ["assigned"] * 40

# -- refunds and voids --------------------------------------------------------------------------------


class FakeReleases:
    """Answers a release with fixed per-code outcomes; records what it was asked; no buyer is involved."""

    def __init__(self, answers: list[tuple[str, int]]) -> None:
        self.answers = answers
        self.released: list[events_pb2.WebhookEvent] = []

    async def upsert_customer(self, event):
        raise AssertionError("a release involves no buyer")

    async def assign_identifiers(self, event, items, customer_id):
        raise AssertionError("a release links nothing")

    async def release_identifiers(self, event):
        self.released.append(event)
        return identifier_pb2.TransactionReleaseResponse(codes=[
            identifier_pb2.CodeRelease(code=code, outcome=outcome) for code, outcome in self.answers])


def release_event(kind=events_pb2.Release.KIND_REFUND, codes=("A", "B")) -> events_pb2.WebhookEvent:
    return events_pb2.WebhookEvent(event_id=EVENT_ID, tenant_id="t1", release=events_pb2.Release(
        kind=kind, transaction_id="FACT-1", refund_id="NC-1", codes=codes))


def test_a_refund_records_per_code_what_the_release_did_and_touches_no_buyer():
    calls = FakeReleases([("A", identifier_pb2.RELEASE_OUTCOME_RELEASED), ("B", identifier_pb2.RELEASE_OUTCOME_NOT_HELD),
                          ("C", identifier_pb2.RELEASE_OUTCOME_UNKNOWN_CODE)])
    outcome = asyncio.run(process_event(release_event(), calls))
    assert [(i.index, i.code, i.outcome) for i in outcome.line_items] == [
        (0, "A", "released"), (1, "B", "not_held"), (2, "C", "unknown_code")]
    assert outcome.customer_id is None and outcome.status == "processed" and len(calls.released) == 1


def test_a_release_with_an_unknown_outcome_is_an_unexpected_answer():
    calls = FakeReleases([("A", 99)])
    with pytest.raises(UnexpectedAnswer):
        asyncio.run(process_event(release_event(events_pb2.Release.KIND_VOID, ()), calls))


def test_a_sale_refunded_before_it_was_processed_records_its_codes_as_released():
    outcome = asyncio.run(process_event(event("A", ""), FakeServiceCalls({"A": OUTCOME.ASSIGN_OUTCOME_RELEASED})))
    assert [(i.code, i.outcome) for i in outcome.line_items] == [("A", "released"), ("", "skipped")]


def test_the_release_request_carries_the_transaction_the_codes_the_kind_and_the_time():
    from datetime import datetime, timezone

    from common.timestamps import to_timestamp
    from processor.clients import release_request

    event_ = release_event(codes=("A",))
    event_.release.event_timestamp.CopyFrom(to_timestamp(datetime(2025, 9, 14, 15, 0, tzinfo=timezone.utc)))
    request = release_request(event_)
    assert (request.tenant_id, request.transaction_id, list(request.codes), request.event_id) == (
        "t1", "FACT-1", ["A"], EVENT_ID)
    assert request.kind == identifier_pb2.RELEASE_KIND_REFUND and request.HasField("released_at")
    void = release_request(release_event(events_pb2.Release.KIND_VOID, ()))
    assert void.kind == identifier_pb2.RELEASE_KIND_VOID and not void.codes and not void.HasField("released_at")



def test_a_line_items_stored_form_is_every_field_of_it():
    """LineItemOutcome.as_json (what the outcomes row stores) is dataclasses.asdict's answer: a field
    added to the class and not to as_json fails here."""
    from dataclasses import asdict

    from processor.outcomes import LineItemOutcome

    item = LineItemOutcome(index=2, code="A-1", product_sku="SKU-9", outcome="assigned")
    assert item.as_json() == asdict(item)
