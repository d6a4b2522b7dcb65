"""The IdentifierService gRPC servicer: proto messages in and out, the service layer in between.

Every assignment gets one INFO log line with its event id and tenant id (the code, its outcome and
the customer), so `grep evt_...` finds it here too.
"""

from __future__ import annotations

import logging
from typing import Any

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common import logs
from common.errors import DomainError
from common.grpc_server import event_id_of, item_error, log_item_refused
from common.timestamps import now, to_datetime, to_timestamp
from identifier_service.repository import Assignment, Provenance
from identifier_service.service import AssignResult, IdentifierService, Outcome

log = logging.getLogger("identifier_service")

_OUTCOME = {
    Outcome.ASSIGNED: identifier_pb2.ASSIGN_OUTCOME_ASSIGNED,
    Outcome.ALREADY_ASSIGNED: identifier_pb2.ASSIGN_OUTCOME_ALREADY_ASSIGNED,
    Outcome.CONFLICT: identifier_pb2.ASSIGN_OUTCOME_CONFLICT,
    Outcome.UNKNOWN_CODE: identifier_pb2.ASSIGN_OUTCOME_UNKNOWN_CODE,
}


def identifier_message(row: dict[str, Any]) -> identifier_pb2.Identifier:
    """A stored row as an Identifier message (NULL becomes "" or an unset timestamp)."""
    return identifier_pb2.Identifier(
        code=row["code"],
        tenant_id=row["tenant_id"],
        customer_id=str(row["customer_id"]) if row["customer_id"] else "",
        assigned_at=to_timestamp(row["assigned_at"]),
        transaction_id=row["transaction_id"] or "",
        product_sku=row["product_sku"] or "",
        product_name=row["product_name"] or "",
        event_id=row["event_id"] or "",
        registered_at=to_timestamp(row["registered_at"]),
        sold_at=to_timestamp(row["sold_at"]),
    )


def assignment(request: identifier_pb2.AssignIdentifierRequest) -> Assignment:
    """The service-layer assignment for one AssignIdentifierRequest (validated by the service)."""
    p = request.provenance
    provenance = Provenance(
        transaction_id=p.transaction_id,
        product_sku=p.product_sku,
        product_name=p.product_name,
        event_id=p.event_id,
        sold_at=to_datetime(p.sold_at) if p.HasField("sold_at") else now(),  # unset: now; a zero time is 1970
    )
    return Assignment(request.tenant_id, request.code, request.customer_id, provenance)


def assign_response(result: AssignResult) -> identifier_pb2.AssignIdentifierResponse:
    """What AssignIdentifier answers for one assignment."""
    return identifier_pb2.AssignIdentifierResponse(
        outcome=_OUTCOME[result.outcome],
        identifier=identifier_message(result.identifier) if result.identifier else None,
    )


def log_assignment(request: identifier_pb2.AssignIdentifierRequest, event_id: str,
                   result: AssignResult | DomainError) -> None:
    """The log line of one assignment: the code's outcome and the customer it was asked for, or refused."""
    if isinstance(result, DomainError):
        log_item_refused(log, "assignment", event_id, request.tenant_id, result)
        return
    outcome = result.outcome.value
    log.info("event %s: identifier %s %s (customer %s)", event_id or "-", request.code, outcome, request.customer_id,
             extra=logs.event_extra(event_id, request.tenant_id, code=request.code, outcome=outcome,
                                    customer_id=request.customer_id))


class IdentifierServicer(identifier_pb2_grpc.IdentifierServiceServicer):
    """Thin translation layer; errors are translated by common.grpc_server.BoundaryInterceptor."""

    def __init__(self, service: IdentifierService):
        self.service = service

    async def RegisterIdentifiers(self, request, context):
        registered, already = await self.service.register(request.tenant_id, list(request.codes))
        return identifier_pb2.RegisterIdentifiersResponse(registered=registered, already_registered=already)

    async def GetIdentifier(self, request, context):
        row = await self.service.get(request.tenant_id, request.code)
        return identifier_pb2.GetIdentifierResponse(identifier=identifier_message(row))

    async def AssignIdentifier(self, request, context):
        a = assignment(request)
        result = await self.service.assign(a.tenant_id, a.code, a.customer_id, a.provenance)
        log_assignment(request, event_id_of(request.provenance.event_id, context), result)
        return assign_response(result)

    async def AssignIdentifiers(self, request, context):
        results = await self.service.assign_many([assignment(item) for item in request.items])
        for item, result in zip(request.items, results):
            log_assignment(item, event_id_of(item.provenance.event_id), result)
        return identifier_pb2.AssignIdentifiersResponse(results=[
            identifier_pb2.AssignIdentifierResult(error=item_error(r)) if isinstance(r, DomainError)
            else identifier_pb2.AssignIdentifierResult(response=assign_response(r))
            for r in results
        ])

    async def ListIdentifiers(self, request, context):
        rows, token = await self.service.list(request.tenant_id, request.customer_id, request.page_size, request.page_token)
        return identifier_pb2.ListIdentifiersResponse(
            identifiers=[identifier_message(r) for r in rows], next_page_token=token
        )
