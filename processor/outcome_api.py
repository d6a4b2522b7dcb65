"""EventOutcomeService (protos/autentikapp/v1/event_outcomes.proto): the processor's recorded outcomes,
read over gRPC by the brands' dashboard and by operators, served by the processor process itself
(processor/runner.py) from its own database: no other process reads the outcomes table.

A thin translation layer over processor.outcomes; errors are translated by
common.grpc_server.BoundaryInterceptor, which also enforces ALLOWED_ROLES over mutual TLS.
"""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from autentikapp.v1 import event_outcomes_pb2, event_outcomes_pb2_grpc
from common import db
from common.grpc_server import Registration
from common.grpc_tls import DASHBOARD, OPERATOR
from common.timestamps import to_timestamp
from processor import outcomes
from processor.outcomes import EventOutcome

SERVICE_NAME = event_outcomes_pb2.DESCRIPTOR.services_by_name["EventOutcomeService"].full_name
# Who may call what (the caller's certificate names its role; common/grpc_tls.py): the outcomes are read by
# the brands' dashboard and by operators. Not by the processor role: nothing calls a processor as one.
ALLOWED_ROLES = {
    "ListEventOutcomes": frozenset({DASHBOARD, OPERATOR}),
    "GetEventOutcome": frozenset({DASHBOARD, OPERATOR}),
}


def outcome_message(outcome: EventOutcome) -> event_outcomes_pb2.EventOutcome:
    """A recorded outcome as an EventOutcome message (None becomes "")."""
    return event_outcomes_pb2.EventOutcome(
        event_id=outcome.event_id,
        tenant_id=outcome.tenant_id,
        status=outcome.status,
        transaction_id=outcome.transaction_id or "",
        event_type=outcome.event_type or "",
        line_items=[event_outcomes_pb2.LineItemOutcome(index=item.index, code=item.code, product_sku=item.product_sku,
                                                       outcome=item.outcome) for item in outcome.line_items],
        reason=outcome.reason or "",
        customer_created=outcome.customer_created,
        deliveries=outcome.deliveries,
        first_processed_at=to_timestamp(outcome.first_processed_at),
        processed_at=to_timestamp(outcome.processed_at),
    )


class EventOutcomeServicer(event_outcomes_pb2_grpc.EventOutcomeServiceServicer):
    """Reads on the processor's outcomes pool, at most `max_reads` at a time, so that reads never take
    every connection from the outcome writes of the messages in hand."""

    def __init__(self, pool: AsyncConnectionPool, max_reads: int):
        self.pool = pool
        self._reads = asyncio.Semaphore(max(1, max_reads))

    async def ListEventOutcomes(self, request, context):
        query = outcomes.outcome_query(request.tenant_id, status=request.status,
                                       line_item_outcome=request.line_item_outcome,
                                       transaction_id=request.transaction_id, page_size=request.page_size,
                                       page_token=request.page_token)
        async with self._reads, db.connection(self.pool) as conn:
            page = await outcomes.list_outcomes(conn, query)
        return event_outcomes_pb2.ListEventOutcomesResponse(
            outcomes=[outcome_message(o) for o in page.outcomes], next_page_token=page.next_page_token)

    async def GetEventOutcome(self, request, context):
        async with self._reads, db.connection(self.pool) as conn:
            outcome = await outcomes.get_for_tenant(conn, request.tenant_id, request.event_id)
        return event_outcomes_pb2.GetEventOutcomeResponse(outcome=outcome_message(outcome))


def registration(pool: AsyncConnectionPool, max_reads: int) -> Registration:
    """The servicer to serve, bound to the outcomes pool (common.grpc_server.create_server)."""
    return Registration(event_outcomes_pb2_grpc.add_EventOutcomeServiceServicer_to_server,
                        EventOutcomeServicer(pool, max_reads), SERVICE_NAME, ALLOWED_ROLES)
