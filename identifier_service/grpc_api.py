"""The IdentifierService gRPC servicer: proto messages in and out, the service layer in between.

Every assignment gets one INFO log line with its event id and tenant id (the code, its outcome and
the customer), and every release one with the release event's id (the transaction, and how many codes
it released), so `grep evt_...` finds it here too.
"""

from __future__ import annotations

import logging
from typing import Any

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common import logs
from common.errors import DomainError
from common.grpc_server import event_id_of, item_error, log_item_refused
from common.timestamps import now, to_datetime, to_timestamp
from identifier_service.repository import Assignment, Provenance, Release
from identifier_service.service import AssignResult, IdentifierService, Outcome, ReleaseOutcome

log = logging.getLogger("identifier_service")

_OUTCOME = {
    Outcome.ASSIGNED: identifier_pb2.ASSIGN_OUTCOME_ASSIGNED,
    Outcome.ALREADY_ASSIGNED: identifier_pb2.ASSIGN_OUTCOME_ALREADY_ASSIGNED,
    Outcome.CONFLICT: identifier_pb2.ASSIGN_OUTCOME_CONFLICT,
    Outcome.UNKNOWN_CODE: identifier_pb2.ASSIGN_OUTCOME_UNKNOWN_CODE,
    Outcome.RELEASED: identifier_pb2.ASSIGN_OUTCOME_RELEASED,
}

_RELEASE_OUTCOME = {
    ReleaseOutcome.RELEASED: identifier_pb2.RELEASE_OUTCOME_RELEASED,
    ReleaseOutcome.NOT_HELD: identifier_pb2.RELEASE_OUTCOME_NOT_HELD,
    ReleaseOutcome.UNKNOWN_CODE: identifier_pb2.RELEASE_OUTCOME_UNKNOWN_CODE,
}

_KIND = {identifier_pb2.RELEASE_KIND_REFUND: "refund", identifier_pb2.RELEASE_KIND_VOID: "void"}
_KIND_MESSAGE = {name: number for number, name in _KIND.items()}
_ACTION = {"linked": identifier_pb2.HISTORY_ACTION_LINKED, "released": identifier_pb2.HISTORY_ACTION_RELEASED}


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


def release(request: identifier_pb2.TransactionRelease) -> Release:
    """The service-layer release for one TransactionRelease (validated by the service; an unknown kind
    becomes "" and is refused there)."""
    released_at = to_datetime(request.released_at) if request.HasField("released_at") else now()
    return Release(request.tenant_id, request.transaction_id, tuple(request.codes), request.event_id,
                   _KIND.get(request.kind, ""), released_at)


def release_response(answer: list[tuple[str, ReleaseOutcome, str]]) -> identifier_pb2.TransactionReleaseResponse:
    """What ReleaseIdentifiers answers for one release."""
    return identifier_pb2.TransactionReleaseResponse(codes=[
        identifier_pb2.CodeRelease(code=code, outcome=_RELEASE_OUTCOME[outcome], customer_id=customer)
        for code, outcome, customer in answer])


def log_release(request: identifier_pb2.TransactionRelease, result: list | DomainError) -> None:
    """The log line of one release: its transaction and how many codes it released, or refused."""
    event_id = event_id_of(request.event_id)
    if isinstance(result, DomainError):
        log_item_refused(log, "release", event_id, request.tenant_id, result)
        return
    released = sum(1 for _, outcome, _ in result if outcome is ReleaseOutcome.RELEASED)
    log.info("event %s: transaction %s released %d of %d codes", event_id or "-", request.transaction_id,
             released, len(result),
             extra=logs.event_extra(event_id, request.tenant_id, transaction_id=request.transaction_id,
                                    released=released, answered=len(result)))


def history_entry(row: dict[str, Any]) -> identifier_pb2.IdentifierHistoryEntry:
    """A stored history row as an IdentifierHistoryEntry."""
    return identifier_pb2.IdentifierHistoryEntry(
        tenant_id=row["tenant_id"],
        code=row["code"],
        action=_ACTION[row["action"]],
        customer_id=str(row["customer_id"]),
        transaction_id=row["transaction_id"] or "",
        event_id=row["event_id"] or "",
        at=to_timestamp(row["at"]),
        recorded_at=to_timestamp(row["recorded_at"]),
        kind=_KIND_MESSAGE.get(row["kind"], identifier_pb2.RELEASE_KIND_UNSPECIFIED),
    )


def assign_response(result: AssignResult) -> identifier_pb2.AssignIdentifierResponse:
    """What AssignIdentifier answers for one assignment."""
    return identifier_pb2.AssignIdentifierResponse(
        outcome=_OUTCOME[result.outcome],
        identifier=identifier_message(result.identifier) if result.identifier else None,
    )


def log_assignments(answered: list[tuple[identifier_pb2.AssignIdentifierRequest, str, AssignResult | DomainError]]) -> None:
    """The log lines of (request, event id, result) answered together: one per event and customer, with
    each of its codes' outcome (a sale's codes are one line, not one each: logging was a fifth of this
    service's CPU), and one per refused item."""
    lines: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for request, event_id, result in answered:
        if isinstance(result, DomainError):
            log_item_refused(log, "assignment", event_id, request.tenant_id, result)
            continue
        key = (event_id, request.tenant_id, request.customer_id)
        lines.setdefault(key, []).append({"code": request.code, "outcome": result.outcome.value})
    for (event_id, tenant_id, customer_id), codes in lines.items():
        log.info("event %s: %d identifier(s) for customer %s: %s", event_id or "-", len(codes), customer_id,
                 ", ".join(f"{c['code']} {c['outcome']}" for c in codes),
                 extra=logs.event_extra(event_id, tenant_id, customer_id=customer_id, codes=codes))


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
        log_assignments([(request, event_id_of(request.provenance.event_id, context), result)])
        return assign_response(result)

    async def AssignIdentifiers(self, request, context):
        results = await self.service.assign_many([assignment(item) for item in request.items])
        log_assignments([(item, event_id_of(item.provenance.event_id), result)
                         for item, result in zip(request.items, results)])
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

    async def ReleaseIdentifiers(self, request, context):
        results = await self.service.release_many([release(item) for item in request.items])
        for item, result in zip(request.items, results):
            log_release(item, result)
        return identifier_pb2.ReleaseIdentifiersResponse(results=[
            identifier_pb2.TransactionReleaseResult(error=item_error(r)) if isinstance(r, DomainError)
            else identifier_pb2.TransactionReleaseResult(response=release_response(r))
            for r in results
        ])

    async def ListIdentifierHistory(self, request, context):
        rows, token = await self.service.history(request.tenant_id, request.code, request.page_size,
                                                 request.page_token)
        return identifier_pb2.ListIdentifierHistoryResponse(
            entries=[history_entry(r) for r in rows], next_page_token=token
        )
