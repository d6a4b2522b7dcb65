"""What the dashboard needs from the processor: its recorded event outcomes, through the processor's
EventOutcomeService (over mutual TLS as role `dashboard`), one tenant at a time (the signed-in user's).
`GrpcEventOutcomes` is the real one; the unit tests use a fake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import grpc

from autentikapp.v1 import event_outcomes_pb2 as pb, event_outcomes_pb2_grpc
from common.timestamps import to_datetime
from dashboard import rpc
from processor import outcomes

WHAT = "the processor's outcomes API"
# The values the processor records (and the filters the page offers, in this order): its own definitions.
STATUSES = outcomes.STATUSES
LINE_ITEM_OUTCOMES = outcomes.LINE_ITEM_OUTCOMES


@dataclass(frozen=True)
class LineItem:
    index: int
    code: str
    product_sku: str
    outcome: str


@dataclass(frozen=True)
class EventRow:
    """One event as the page lists it."""

    event_id: str
    transaction_id: str
    event_type: str
    status: str
    processed_at: datetime | None
    reason: str
    line_items: tuple[LineItem, ...]


@dataclass(frozen=True)
class EventFilter:
    """The page's filters; empty strings mean "any"."""

    status: str = ""
    outcome: str = ""
    transaction_id: str = ""


class EventOutcomes(Protocol):
    """Raises NotFound for another tenant's event, InvalidArgument for a bad filter or page token,
    Unavailable when the processor cannot be reached."""

    def list_events(self, tenant_id: str, filters: EventFilter, page_token: str = "") -> tuple[list[EventRow], str]: ...

    def get_event(self, tenant_id: str, event_id: str) -> EventRow: ...


def _row(message: pb.EventOutcome) -> EventRow:
    return EventRow(message.event_id, message.transaction_id, message.event_type, message.status,
                    to_datetime(message.processed_at) if message.HasField("processed_at") else None,
                    message.reason,
                    tuple(LineItem(i.index, i.code, i.product_sku, i.outcome) for i in message.line_items))


class GrpcEventOutcomes:
    """EventOutcomes over the processor's API (one channel per gunicorn worker)."""

    def __init__(self, channel: grpc.Channel, page_size: int = 25):
        self._stub = event_outcomes_pb2_grpc.EventOutcomeServiceStub(channel)
        self._page_size = page_size

    def list_events(self, tenant_id: str, filters: EventFilter, page_token: str = "") -> tuple[list[EventRow], str]:
        answer = rpc.call(WHAT, self._stub.ListEventOutcomes, pb.ListEventOutcomesRequest(
            tenant_id=tenant_id, status=filters.status, line_item_outcome=filters.outcome,
            transaction_id=filters.transaction_id, page_size=self._page_size, page_token=page_token))
        return [_row(o) for o in answer.outcomes], answer.next_page_token

    def get_event(self, tenant_id: str, event_id: str) -> EventRow:
        answer = rpc.call(WHAT, self._stub.GetEventOutcome,
                          pb.GetEventOutcomeRequest(tenant_id=tenant_id, event_id=event_id))
        return _row(answer.outcome)
