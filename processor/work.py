"""Processing one event: a sale upserts its buyer, then links every coded line item to that buyer; a
refund or a void releases what that sale linked (the identifier service frees a code only while it is
held through that very sale, and remembers the release for a sale processed after it).

Pure orchestration over the services' calls (see clients.ServiceClients); no bus, no database. The result is
the event's outcome, ready to record. Both services are idempotent, so running this again for the
same event (a redelivery after a crash) records the same outcome.
"""

from __future__ import annotations

from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from autentikapp.v1 import customer_pb2, domain_events_pb2, events_pb2, identifier_pb2
from common import domain_event_message
from processor import failures, outcomes
from processor.outcomes import EventOutcome, LineItemOutcome


class ServiceCalls(Protocol):
    """The two calls processing needs (clients.ServiceClients in production, fakes in unit tests)."""

    async def upsert_customer(self, event: events_pb2.WebhookEvent) -> customer_pb2.UpsertCustomerResponse: ...

    async def assign_identifiers(
        self, event: events_pb2.WebhookEvent, items: list[events_pb2.LineItem], customer_id: str
    ) -> list[identifier_pb2.AssignIdentifierResponse | BaseException]: ...

    async def release_identifiers(self, event: events_pb2.WebhookEvent) -> identifier_pb2.TransactionReleaseResponse: ...


_OUTCOMES = {
    identifier_pb2.ASSIGN_OUTCOME_ASSIGNED: outcomes.ASSIGNED,
    identifier_pb2.ASSIGN_OUTCOME_ALREADY_ASSIGNED: outcomes.ALREADY_ASSIGNED,
    identifier_pb2.ASSIGN_OUTCOME_CONFLICT: outcomes.CONFLICT,
    identifier_pb2.ASSIGN_OUTCOME_UNKNOWN_CODE: outcomes.UNKNOWN_CODE,
    identifier_pb2.ASSIGN_OUTCOME_RELEASED: outcomes.RELEASED,
}
_RELEASE_OUTCOMES = {
    identifier_pb2.RELEASE_OUTCOME_RELEASED: outcomes.RELEASED,
    identifier_pb2.RELEASE_OUTCOME_NOT_HELD: outcomes.NOT_HELD,
    identifier_pb2.RELEASE_OUTCOME_UNKNOWN_CODE: outcomes.UNKNOWN_CODE,
}


def line_item_outcome(response: identifier_pb2.AssignIdentifierResponse, event_id: str) -> str:
    """The recorded outcome of one assignment.

    ALREADY_ASSIGNED by this very event (the stored provenance names it) means an earlier delivery
    assigned it and then crashed before recording: that is `assigned`, so every delivery of an event
    records the same outcome.
    """
    outcome = _OUTCOMES.get(response.outcome)
    if outcome is None:
        raise failures.UnexpectedAnswer(f"AssignIdentifier answered an unknown outcome {response.outcome}")
    if outcome == outcomes.ALREADY_ASSIGNED and response.identifier.event_id == event_id:
        return outcomes.ASSIGNED
    return outcome


_RELEASE_TYPES = {events_pb2.Release.KIND_REFUND: outcomes.REFUND, events_pb2.Release.KIND_VOID: outcomes.VOID}


def transaction_and_type(event: events_pb2.WebhookEvent) -> tuple[str | None, str | None]:
    """The event's transaction id and event type, as its outcome records them (None when it has none): a
    sale's own, or the refunded or voided sale's transaction and `transaction.refunded` / `.voided`."""
    if event.HasField("release"):
        return event.release.transaction_id or None, _RELEASE_TYPES.get(event.release.kind)
    if event.HasField("sale"):
        return event.sale.transaction_id or None, event.sale.event_type or outcomes.SALE
    return None, None


def raise_worst(results: list[object]) -> None:
    """Re-raise the most severe failure among gathered results, if any (cancellation first)."""
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors:
        if not isinstance(error, Exception):  # CancelledError: we are being stopped
            raise error
    if errors:
        raise failures.worst(errors)


async def process_event(event: events_pb2.WebhookEvent, calls: ServiceCalls) -> EventOutcome:
    """The event's effects and outcome: a sale's (`process_sale`), or a refund's or void's
    (`process_release`)."""
    if event.HasField("release"):
        return await process_release(event, calls)
    return await process_sale(event, calls)


async def process_release(event: events_pb2.WebhookEvent, calls: ServiceCalls) -> EventOutcome:
    """Release what the refunded or voided sale linked, and return the outcome: one line item per code
    the refund named (or, naming none, per code released), `released`, `not_held` or `unknown_code`. No
    buyer is involved. Raises the failure when the call fails (nothing is recorded; a later delivery
    repeats it: the same release event again changes nothing)."""
    released = await calls.release_identifiers(event)
    line_items, effects = [], []
    for index, entry in enumerate(released.codes):
        outcome = _RELEASE_OUTCOMES.get(entry.outcome)
        if outcome is None:
            raise failures.UnexpectedAnswer(f"ReleaseIdentifiers answered an unknown outcome {entry.outcome}")
        line_items.append(LineItemOutcome(index, entry.code, "", outcome))
        if outcome == outcomes.RELEASED:
            effects.append(effect(domain_event_message.RELEASED, event, entry.code, entry.customer_id,
                                  event.release.transaction_id, event.release.event_timestamp))
    transaction_id, event_type = transaction_and_type(event)
    return EventOutcome(event_id=event.event_id, tenant_id=event.tenant_id, status=outcomes.PROCESSED,
                        line_items=line_items, transaction_id=transaction_id, event_type=event_type,
                        effects=effects)


def effect(kind: int, event: events_pb2.WebhookEvent, code: str, customer_id: str, transaction_id: str,
           at: Timestamp) -> domain_events_pb2.IdentifierEvent:
    """One domain event of this event's (common/domain_event_message.py)."""
    return domain_events_pb2.IdentifierEvent(kind=kind, tenant_id=event.tenant_id, code=code, customer_id=customer_id,
                                             event_id=event.event_id, transaction_id=transaction_id, at=at)


async def process_sale(event: events_pb2.WebhookEvent, calls: ServiceCalls) -> EventOutcome:
    """Upsert the buyer, assign the coded line items (together), and return the outcome. A buyer whose
    every value identifies nobody (customer_service answers `unidentified`) gets no customer, and each
    coded item is `unidentified_buyer`: nothing is linked.

    Raises the most severe failure when a call fails; nothing is recorded then, and a later delivery
    repeats the calls (idempotently).
    """
    upserted = await calls.upsert_customer(event)
    items = list(event.sale.line_items)
    coded = [index for index, item in enumerate(items) if item.autentikapp_code]
    if upserted.unidentified:  # no value identified the buyer: link nothing to anybody
        customer_id = ""
        assigned = dict.fromkeys(coded, outcomes.UNIDENTIFIED_BUYER)
    else:
        customer_id = upserted.customer.id
        if not customer_id:
            raise failures.UnexpectedAnswer("UpsertCustomer answered without a customer id")
        results = await calls.assign_identifiers(event, [items[index] for index in coded], customer_id) if coded else []
        raise_worst(results)
        assigned = {index: line_item_outcome(response, event.event_id) for index, response in zip(coded, results)}
    transaction_id, event_type = transaction_and_type(event)
    return EventOutcome(
        event_id=event.event_id,
        tenant_id=event.tenant_id,
        status=outcomes.PROCESSED,
        customer_id=customer_id or None,
        customer_created=upserted.created,
        clashes=[{"field": c.field, "other_customer_id": c.other_customer_id} for c in upserted.clashes],
        line_items=[
            LineItemOutcome(index, item.autentikapp_code, item.product_sku, assigned.get(index, outcomes.SKIPPED))
            for index, item in enumerate(items)
        ],
        ignored_identity=[{"field": i.field, "reason": i.reason} for i in upserted.ignored],
        transaction_id=transaction_id,
        event_type=event_type,
        effects=[effect(domain_event_message.LINKED, event, items[index].autentikapp_code, customer_id,
                        event.sale.transaction_id, event.sale.event_timestamp)
                 for index in coded if assigned[index] == outcomes.ASSIGNED],
    )
