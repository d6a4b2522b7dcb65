"""The processor's gRPC clients: one grpc.aio channel per service, reused by every message.

Every call carries a deadline and the event's ids as metadata (x-event-id, x-tenant-id) so the
services' logs can follow a sale. A failed call becomes failures.RpcFailure (method, code, details),
which is all the rest of the processor needs to know about gRPC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from autentikapp.v1 import customer_pb2, customer_pb2_grpc, events_pb2, identifier_pb2, identifier_pb2_grpc
from processor.failures import RpcFailure

# Reconnect quickly after a service restarts: gRPC's default backoff grows to two minutes, during
# which calls fail at once with UNAVAILABLE even though the service is back.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 3000),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)


def call_metadata(event: events_pb2.WebhookEvent) -> tuple[tuple[str, str], ...]:
    """The metadata sent with every call made for `event`."""
    return (("x-event-id", event.event_id), ("x-tenant-id", event.tenant_id))


class ServiceClients:
    """Calls to customer_service and identifier_service on behalf of one event at a time.

    Create it inside the running event loop (grpc.aio channels belong to a loop).
    """

    def __init__(self, customer_addr: str, identifier_addr: str, timeout: float) -> None:
        """Open (lazily connecting) one channel per service."""
        self.timeout = timeout
        self._customer_channel = grpc.aio.insecure_channel(customer_addr, options=CHANNEL_OPTIONS)
        self._identifier_channel = grpc.aio.insecure_channel(identifier_addr, options=CHANNEL_OPTIONS)
        self._customers = customer_pb2_grpc.CustomerServiceStub(self._customer_channel)
        self._identifiers = identifier_pb2_grpc.IdentifierServiceStub(self._identifier_channel)

    async def upsert_customer(self, event: events_pb2.WebhookEvent) -> customer_pb2.UpsertCustomerResponse:
        """Create or update the sale's buyer, dated by the sale's timestamp."""
        sale = event.sale
        request = customer_pb2.UpsertCustomerRequest(tenant_id=event.tenant_id, data=sale.customer)
        if sale.HasField("event_timestamp"):
            request.observed_at.CopyFrom(sale.event_timestamp)
        return await self._call(self._customers.UpsertCustomer, "UpsertCustomer", request, event)

    async def assign_identifier(
        self, event: events_pb2.WebhookEvent, item: events_pb2.LineItem, customer_id: str
    ) -> identifier_pb2.AssignIdentifierResponse:
        """Link one line item's code to the customer, with the sale as provenance."""
        sale = event.sale
        provenance = identifier_pb2.Provenance(
            transaction_id=sale.transaction_id,
            product_sku=item.product_sku,
            product_name=item.product_name,
            event_id=event.event_id,
        )
        if sale.HasField("event_timestamp"):
            provenance.sold_at.CopyFrom(sale.event_timestamp)
        request = identifier_pb2.AssignIdentifierRequest(
            tenant_id=event.tenant_id, code=item.autentikapp_code, customer_id=customer_id, provenance=provenance
        )
        return await self._call(self._identifiers.AssignIdentifier, "AssignIdentifier", request, event)

    async def _call(
        self, rpc: Callable[..., Awaitable[Any]], method: str, request: Any, event: events_pb2.WebhookEvent
    ) -> Any:
        """One unary call with the deadline and the event's metadata; errors become RpcFailure."""
        try:
            return await rpc(request, timeout=self.timeout, metadata=call_metadata(event))
        except grpc.aio.AioRpcError as exc:
            raise RpcFailure(method, exc.code(), exc.details() or "") from None

    async def close(self) -> None:
        """Close both channels (pending calls are cancelled)."""
        await self._customer_channel.close()
        await self._identifier_channel.close()
