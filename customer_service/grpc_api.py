"""The CustomerService gRPC servicer: proto messages in and out, the service layer in between."""

from __future__ import annotations

from typing import Any

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from common.errors import DomainError, InvalidArgument
from common.grpc_server import item_error
from common.timestamps import now, to_datetime, to_timestamp
from customer_service.domain import CUSTOMER_FIELDS, CustomerFields
from customer_service.service import CustomerService, UpsertItem, UpsertResult


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
        return upsert_response(await self.service.upsert(item.tenant_id, item.incoming, item.observed_at))

    async def UpsertCustomers(self, request, context):
        results = await self.service.upsert_many([parsed_or_error(item) for item in request.items])
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
