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