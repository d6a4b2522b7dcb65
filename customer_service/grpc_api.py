"""The CustomerService gRPC servicer: proto messages in and out, the service layer in between.

Every applied buyer gets one INFO log line with its event id and tenant id (what the customer became,
the clashes, its contact values masked), so `grep evt_...` finds it here too.
"""

from __future__ import annotations

import logging
from typing import Any

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from common import logs
from common.errors import DomainError, InvalidArgument
from common.grpc_server import event_id_of, item_error, log_item_refused
from common.timestamps import now, to_datetime, to_timestamp
from customer_service.domain import CUSTOMER_FIELDS, CustomerFields
from customer_service.service import CustomerService, UpsertItem, UpsertResult

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
    )


def upsert_item(request: customer_pb2.UpsertCustomerRequest) -> UpsertItem:
    """The service-layer item for one UpsertCustomerRequest; InvalidArgument when its data is bad."""
    if not request.HasField("data"):
        raise InvalidArgument("data is required", "data")
    return UpsertItem(request.tenant_id, CustomerFields.parse(request.data),
                      to_datetime(request.observed_at, default=now()))


def upsert_response(result: UpsertResult) -> customer_pb2.UpsertCustomerResponse:
    """What UpsertCustomer answers for one applied buyer."""
    return customer_pb2.UpsertCustomerResponse(
        customer=customer_message(result.customer),
        created=result.created,
        clashes=[customer_pb2.Clash(field=c.field, other_customer_id=c.other_customer_id) for c in result.clashes],
    )


def log_upsert(request: customer_pb2.UpsertCustomerRequest, event_id: str, parsed: UpsertItem | DomainError,
               result: UpsertResult | DomainError) -> None:
    """The log line of one buyer: created / updated / unchanged with its clashes, or refused."""
    if isinstance(result, DomainError):
        log_item_refused(log, "buyer", event_id, request.tenant_id, result)
        return
    assert isinstance(parsed, UpsertItem)  # an item that did not parse is answered with its error
    contact = logs.masked_contact(parsed.incoming.as_dict())
    customer_id = str(result.customer["id"])
    clash_fields = [clash.field for clash in result.clashes]
    log.info("event %s: customer %s %s, %d clash(es)%s (%s)", event_id or "-", customer_id, result.action,
             len(clash_fields), f" on {', '.join(clash_fields)}" if clash_fields else "",
             ", ".join(f"{name} {value}" for name, value in contact.items()),
             extra=logs.event_extra(event_id, parsed.tenant_id, customer_id=customer_id, customer=result.action,
                                    clashes=len(clash_fields), clash_fields=clash_fields, **contact))


def parsed_or_error(request: customer_pb2.UpsertCustomerRequest) -> UpsertItem | DomainError:
    """One batch item parsed, or the error that refuses it (the rest of the batch goes on)."""
    try:
        return upsert_item(request)
    except DomainError as exc:
        return exc


class CustomerServicer(customer_pb2_grpc.CustomerServiceServicer):
    """Thin translation layer; errors are translated by common.grpc_server.BoundaryInterceptor."""

    def __init__(self, service: CustomerService):
        self.service = service

    async def UpsertCustomer(self, request, context):
        item = upsert_item(request)
        result = await self.service.upsert(item.tenant_id, item.incoming, item.observed_at)
        log_upsert(request, event_id_of(request.event_id, context), item, result)
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
