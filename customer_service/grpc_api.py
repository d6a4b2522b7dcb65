"""The CustomerService gRPC servicer: proto messages in and out, the service layer in between.

Every applied buyer gets one INFO log line with its event id and tenant id (what the customer became,
the clashes, its contact values masked), so `grep evt_...` finds it here too. Every erasure gets one
INFO line with the customer, the tenant, who asked, why, when and the fields erased by name (`log_erasure`).
"""

from __future__ import annotations

import logging
from typing import Any

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from common import logs, normalize
from common.batch_rpc import single
from common.buyer_identity import TenantList
from common.errors import DomainError, InvalidArgument
from common.grpc_server import event_id_of, item_error, log_item_refused
from common.timestamps import now, to_datetime, to_timestamp
from customer_service.domain import CUSTOMER_FIELDS, CustomerFields, screen
from customer_service.service import (
    CustomerService,
    EraseResult,
    UpsertItem,
    UpsertResult,
)

log = logging.getLogger("customer_service")


def customer_message(row: dict[str, Any]) -> customer_pb2.Customer:
    """A stored row as a Customer message (NULL becomes "")."""
    return customer_pb2.Customer(
        id=str(row["id"]),
        tenant_id=row["tenant_id"],
        **{name: row[name] or "" for name in CUSTOMER_FIELDS},
        created_at=to_timestamp(row["created_at"]),
        updated_at=to_timestamp(row["updated_at"]),
        data_observed_at=to_timestamp(row["data_observed_at"]),
        erased_at=to_timestamp(row.get("erased_at")),  # unset unless a tombstone
    )


def history_entry(row: dict[str, Any]) -> customer_pb2.CustomerHistoryEntry:
    """A stored history row as a CustomerHistoryEntry (an erased value: empty, value_erased)."""
    return customer_pb2.CustomerHistoryEntry(
        field=row["field"], value=row["value"] or "", value_erased=row["value"] is None,
        event_id=row["event_id"] or "", observed_at=to_timestamp(row["observed_at"]),
        recorded_at=to_timestamp(row["recorded_at"]))


def tenant_rules(rules: customer_pb2.BuyerIdentityRules) -> tuple[str | None, TenantList]:
    """The tenant's default phone country (None for none) and its own list of values that identify nobody."""
    country = normalize.country(rules.default_country, "rules.default_country") or None
    return country, TenantList(frozenset(rules.ignored_national_ids), frozenset(rules.ignored_emails),
                               frozenset(rules.ignored_phone_numbers))


def upsert_item(request: customer_pb2.UpsertCustomerRequest, event_id: str = "") -> UpsertItem:
    """The service-layer item for one UpsertCustomerRequest: the data normalised (phones completed with
    the tenant's default country), then the values that identify nobody set aside, and the event's id
    (`event_id`: the request's, checked by event_id_of), which the customer's history records.
    InvalidArgument when the data is bad, or names no national_id, email or phone_number at all."""
    if not request.HasField("data"):
        raise InvalidArgument("data is required", "data")
    observed_at = to_datetime(request.observed_at) if request.HasField("observed_at") else now()  # zero is 1970
    country, tenant_list = tenant_rules(request.rules)
    incoming, ignored = screen(CustomerFields.parse(request.data, country), tenant_list)
    return UpsertItem(request.tenant_id, incoming, observed_at, tuple(ignored), event_id=event_id)


def upsert_response(result: UpsertResult) -> customer_pb2.UpsertCustomerResponse:
    """What UpsertCustomer answers for one applied (or unidentified) buyer."""
    return customer_pb2.UpsertCustomerResponse(
        customer=customer_message(result.customer) if result.customer is not None else None,
        created=result.created,
        clashes=[customer_pb2.Clash(field=c.field, other_customer_id=c.other_customer_id) for c in result.clashes],
        ignored=[customer_pb2.IgnoredValue(field=i.field, reason=i.reason) for i in result.ignored],
        unidentified=result.unidentified,
    )


def log_upsert(request: customer_pb2.UpsertCustomerRequest, event_id: str, parsed: UpsertItem | DomainError,
               result: UpsertResult | DomainError) -> None:
    """The log line of one buyer: created / updated / unchanged with its clashes, or refused."""
    if isinstance(result, DomainError):
        log_item_refused(log, "buyer", event_id, request.tenant_id, result)
        return
    assert isinstance(parsed, UpsertItem)  # an item that did not parse is answered with its error
    ignored = [f"{i.field} ({i.reason})" for i in result.ignored]
    ignored_text = f"; set aside as identifying nobody: {', '.join(ignored)}" if ignored else ""
    if result.customer is None:
        log.info("event %s: buyer unidentified, nothing written%s", event_id or "-", ignored_text,
                 extra=logs.event_extra(event_id, parsed.tenant_id, customer="unidentified",
                                        ignored=[i.field for i in result.ignored]))
        return
    contact = logs.masked_contact(parsed.incoming.as_dict())
    customer_id = str(result.customer["id"])
    clash_fields = [clash.field for clash in result.clashes]
    log.info("event %s: customer %s %s, %d clash(es)%s (%s)%s", event_id or "-", customer_id, result.action,
             len(clash_fields), f" on {', '.join(clash_fields)}" if clash_fields else "",
             ", ".join(f"{name} {value}" for name, value in contact.items()), ignored_text,
             extra=logs.event_extra(event_id, parsed.tenant_id, customer_id=customer_id, customer=result.action,
                                    clashes=len(clash_fields), clash_fields=clash_fields,
                                    ignored=[i.field for i in result.ignored], **contact))


def log_erasure(tenant_id: str, requested_by: str, reason: str, result: EraseResult) -> None:
    """The audit line of an erasure, without the data: customer, tenant, who asked, why, when, and the
    fields erased by name. A repeated request is logged as such (nothing changed, nothing recorded)."""
    customer_id = str(result.customer["id"])
    erased_at = result.customer["erased_at"].isoformat()
    extra = logs.event_extra("", tenant_id, customer_id=customer_id, requested_by=requested_by, reason=reason,
                             erased_at=erased_at, erased_fields=result.fields, repeated=result.already_erased)
    if result.already_erased:
        log.info("customer %s of tenant %s: erasure requested again by %r (reason %r); already erased at %s, "
                 "nothing changed", customer_id, tenant_id, requested_by, reason, erased_at, extra=extra)
        return
    log.info("customer %s of tenant %s erased at %s at the request of %r (reason %r); fields erased: %s",
             customer_id, tenant_id, erased_at, requested_by, reason, ", ".join(result.fields) or "none",
             extra=extra)


def parsed_or_error(request: customer_pb2.UpsertCustomerRequest) -> UpsertItem | DomainError:
    """One batch item parsed, or the error that refuses it (the rest of the batch goes on)."""
    try:
        return upsert_item(request, event_id_of(request.event_id))
    except DomainError as exc:
        return exc


class CustomerServicer(customer_pb2_grpc.CustomerServiceServicer):
    """Thin translation layer; errors are translated by common.grpc_server.BoundaryInterceptor."""

    def __init__(self, service: CustomerService):
        self.service = service

    async def UpsertCustomer(self, request, context):
        event_id = event_id_of(request.event_id, context)
        item = upsert_item(request, event_id)
        result = single(await self.service.upsert_many([item]))
        log_upsert(request, event_id, item, result)
        return upsert_response(result)

    async def UpsertCustomers(self, request, context):
        parsed = [parsed_or_error(item) for item in request.items]
        results = await self.service.upsert_many(parsed)
        for item, one, result in zip(request.items, parsed, results):
            log_upsert(item, event_id_of(item.event_id), one, result)
        return customer_pb2.UpsertCustomersResponse(results=[
            customer_pb2.UpsertCustomerResult(error=item_error(r)) if isinstance(r, DomainError)
            else customer_pb2.UpsertCustomerResult(upserted=upsert_response(r))
            for r in results
        ])

    async def GetCustomer(self, request, context):
        row = await self.service.get(request.tenant_id, request.customer_id)
        return customer_pb2.GetCustomerResponse(customer=customer_message(row))

    async def FindCustomer(self, request, context):
        field = request.WhichOneof("key")
        if field is None:
            raise InvalidArgument("give one of national_id, email or phone_number", "key")
        row = await self.service.find(request.tenant_id, field, getattr(request, field))
        return customer_pb2.FindCustomerResponse(customer=customer_message(row))

    async def ListCustomers(self, request, context):
        rows, token = await self.service.list(request.tenant_id, request.page_size, request.page_token)
        return customer_pb2.ListCustomersResponse(customers=[customer_message(r) for r in rows], next_page_token=token)

    async def EraseCustomer(self, request, context):
        result = await self.service.erase(request.tenant_id, request.customer_id, request.requested_by,
                                          request.reason)
        log_erasure(request.tenant_id, request.requested_by.strip(), request.reason.strip(), result)
        return customer_pb2.EraseCustomerResponse(customer=customer_message(result.customer),
                                                  already_erased=result.already_erased,
                                                  erased_fields=result.fields, identity_digests=result.digests)

    async def ListCustomerHistory(self, request, context):
        page = await self.service.history(request.tenant_id, request.customer_id, request.page_size,
                                          request.page_token)
        return customer_pb2.ListCustomerHistoryResponse(entries=[history_entry(r) for r in page.entries],
                                                        next_page_token=page.next_page_token)
