"""The processor's gRPC clients: one grpc.aio channel per service, reused by every message.

Handlers ask for one buyer or one assignment at a time; processor.coalescer gathers the requests of
concurrent handlers into one UpsertCustomers or AssignIdentifiers call. Every call carries a deadline.
A failed call, or a refused item, becomes failures.RpcFailure (method, code, details), which is all the
rest of the processor needs to know about gRPC. Every call is counted in metrics.CLIENT (method, code,
duration, items per batch). The event id travels inside each item (for the
services' logs), since one call now serves many events.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from autentikapp.v1 import (
    customer_pb2,
    customer_pb2_grpc,
    errors_pb2,
    events_pb2,
    identifier_pb2,
    identifier_pb2_grpc,
)
from common import grpc_tls
from common.metrics import rpc_labels
from processor import metrics
from processor.coalescer import Coalescer
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

# Items per batch call (the services accept up to 1000) and batch calls in flight per service: while
# both calls are out, new requests queue and then leave together, so batches grow with the load.
MAX_BATCH_ITEMS = 500
MAX_BATCH_CALLS = 2

_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
UPSERT_CUSTOMERS = f"/{customer_pb2.DESCRIPTOR.services_by_name['CustomerService'].full_name}/UpsertCustomers"
ASSIGN_IDENTIFIERS = f"/{identifier_pb2.DESCRIPTOR.services_by_name['IdentifierService'].full_name}/AssignIdentifiers"
RELEASE_IDENTIFIERS = f"/{identifier_pb2.DESCRIPTOR.services_by_name['IdentifierService'].full_name}/ReleaseIdentifiers"
# A release event's kind on the bus -> the identifier service's (the same numbers, two enums).
_RELEASE_KINDS = {events_pb2.Release.KIND_REFUND: identifier_pb2.RELEASE_KIND_REFUND,
                  events_pb2.Release.KIND_VOID: identifier_pb2.RELEASE_KIND_VOID}


def item_failure(method: str, error: errors_pb2.ItemError) -> RpcFailure:
    """A refused batch item as the failure the single-item RPC would have raised."""
    return RpcFailure(method, _STATUS_BY_NUMBER.get(error.code, grpc.StatusCode.UNKNOWN), error.message)


def upsert_request(event: events_pb2.WebhookEvent) -> customer_pb2.UpsertCustomerRequest:
    """The request that applies an event's buyer: its data as the gateway validated it, the tenant's
    rules the gateway attached, dated by the sale."""
    sale = event.sale
    request = customer_pb2.UpsertCustomerRequest(tenant_id=event.tenant_id, data=sale.customer,
                                                 event_id=event.event_id)
    if event.HasField("buyer_rules"):
        request.rules.CopyFrom(event.buyer_rules)
    if sale.HasField("event_timestamp"):
        request.observed_at.CopyFrom(sale.event_timestamp)
    return request


def assign_requests(event: events_pb2.WebhookEvent, items: list[events_pb2.LineItem],
                    customer_id: str) -> list[identifier_pb2.AssignIdentifierRequest]:
    """The requests that link the items' codes to the customer, with the sale as provenance."""
    sale = event.sale
    requests = []
    for item in items:
        provenance = identifier_pb2.Provenance(
            transaction_id=sale.transaction_id,
            product_sku=item.product_sku,
            product_name=item.product_name,
            event_id=event.event_id,
        )
        if sale.HasField("event_timestamp"):
            provenance.sold_at.CopyFrom(sale.event_timestamp)
        requests.append(identifier_pb2.AssignIdentifierRequest(
            tenant_id=event.tenant_id, code=item.autentikapp_code, customer_id=customer_id, provenance=provenance
        ))
    return requests


def release_request(event: events_pb2.WebhookEvent) -> identifier_pb2.TransactionRelease:
    """The request that releases what a refunded or voided sale linked: its transaction, the codes the
    refund names (none: every code of the sale; a void names none), dated by the refund or void."""
    release = event.release
    request = identifier_pb2.TransactionRelease(
        tenant_id=event.tenant_id, transaction_id=release.transaction_id, codes=release.codes,
        event_id=event.event_id, kind=_RELEASE_KINDS.get(release.kind, identifier_pb2.RELEASE_KIND_UNSPECIFIED))
    if release.HasField("event_timestamp"):
        request.released_at.CopyFrom(release.event_timestamp)
    return request


class ServiceClients:
    """Calls to customer_service and identifier_service on behalf of events.

    Create it inside the running event loop (grpc.aio channels belong to a loop).
    """

    def __init__(self, customer_addr: str, identifier_addr: str, timeout: float,
                 tls: grpc_tls.TlsFiles | None) -> None:
        """Open (lazily connecting) one channel per service, over mutual TLS with the processor's certificate
        `tls` (None: plain text, GRPC_INSECURE)."""
        self.timeout = timeout
        self._customer_channel = grpc_tls.channel(customer_addr, tls, aio=True, options=CHANNEL_OPTIONS)
        self._identifier_channel = grpc_tls.channel(identifier_addr, tls, aio=True, options=CHANNEL_OPTIONS)
        self._customers = customer_pb2_grpc.CustomerServiceStub(self._customer_channel)
        self._identifiers = identifier_pb2_grpc.IdentifierServiceStub(self._identifier_channel)
        self._upserts = Coalescer(self._upsert_batch, max_items=MAX_BATCH_ITEMS, max_calls=MAX_BATCH_CALLS)
        self._assignments = Coalescer(self._assign_batch, max_items=MAX_BATCH_ITEMS, max_calls=MAX_BATCH_CALLS)
        self._releases = Coalescer(self._release_batch, max_items=MAX_BATCH_ITEMS, max_calls=MAX_BATCH_CALLS)

    async def upsert_customer(self, event: events_pb2.WebhookEvent) -> customer_pb2.UpsertCustomerResponse:
        """Create or update the sale's buyer, dated by the sale's timestamp."""
        return await self._upserts.call(upsert_request(event))

    async def assign_identifiers(
        self, event: events_pb2.WebhookEvent, items: list[events_pb2.LineItem], customer_id: str
    ) -> list[identifier_pb2.AssignIdentifierResponse | BaseException]:
        """Link each line item's code to the customer, with the sale as provenance; per item, the answer
        or the failure (all items queue at once, so they travel in the same batch call)."""
        return await self._assignments.call_many(assign_requests(event, items, customer_id))

    async def release_identifiers(self, event: events_pb2.WebhookEvent) -> identifier_pb2.TransactionReleaseResponse:
        """Release what the refunded or voided sale linked (release, never steal: the service frees a code
        only while it is held through that very sale); per code, what was done."""
        return await self._releases.call(release_request(event))

    async def _upsert_batch(
        self, items: list[customer_pb2.UpsertCustomerRequest]
    ) -> list[customer_pb2.UpsertCustomerResponse | RpcFailure]:
        """One UpsertCustomers call for the queued buyers."""
        response = await self._call(self._customers.UpsertCustomers, UPSERT_CUSTOMERS,
                                    customer_pb2.UpsertCustomersRequest(items=items))
        return [r.upserted if r.HasField("upserted") else item_failure("UpsertCustomer", r.error)
                for r in response.results]

    async def _assign_batch(
        self, items: list[identifier_pb2.AssignIdentifierRequest]
    ) -> list[identifier_pb2.AssignIdentifierResponse | RpcFailure]:
        """One AssignIdentifiers call for the queued line items."""
        response = await self._call(self._identifiers.AssignIdentifiers, ASSIGN_IDENTIFIERS,
                                    identifier_pb2.AssignIdentifiersRequest(items=items))
        return [r.response if r.HasField("response") else item_failure("AssignIdentifier", r.error)
                for r in response.results]

    async def _release_batch(
        self, items: list[identifier_pb2.TransactionRelease]
    ) -> list[identifier_pb2.TransactionReleaseResponse | RpcFailure]:
        """One ReleaseIdentifiers call for the queued releases."""
        response = await self._call(self._identifiers.ReleaseIdentifiers, RELEASE_IDENTIFIERS,
                                    identifier_pb2.ReleaseIdentifiersRequest(items=items))
        return [r.response if r.HasField("response") else item_failure("ReleaseIdentifiers", r.error)
                for r in response.results]

    async def _call(self, rpc: Callable[..., Awaitable[Any]], full_method: str, request: Any) -> Any:
        """One unary call with the deadline, counted in metrics.CLIENT; errors become RpcFailure. A call
        cancelled because the processor stops is not counted (it has no answer)."""
        started = time.perf_counter()
        try:
            response = await rpc(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            metrics.CLIENT.observe(full_method, exc.code().name, time.perf_counter() - started, request)
            raise RpcFailure(rpc_labels(full_method)[1], exc.code(), exc.details() or "") from None
        metrics.CLIENT.observe(full_method, grpc.StatusCode.OK.name, time.perf_counter() - started, request)
        return response

    async def close(self) -> None:
        """Stop the batches in flight and close both channels (pending calls are cancelled)."""
        await self._upserts.close()
        await self._assignments.close()
        await self._releases.close()
        await self._customer_channel.close()
        await self._identifier_channel.close()
