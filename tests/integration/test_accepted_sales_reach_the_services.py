"""A 202 means the sale will be processed, through the real services: sales the gateway's payload rules
accept (tests/accepted_sales.py) are sent to the real CustomerService and IdentifierService over gRPC,
exactly as the processor sends them, and no item is refused. Fewer examples than the in-process twin
(tests/unit/test_accepted_sales_are_processable.py): this one proves the services' databases take them
too."""

from __future__ import annotations

import uuid

from accepted_sales import accepted_documents, accepted_event, requests_for
from hypothesis import HealthCheck, given, settings

from autentikapp.v1 import (
    customer_pb2,
    customer_pb2_grpc,
    identifier_pb2,
    identifier_pb2_grpc,
)


@settings(max_examples=30, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(accepted_documents())
def test_the_real_services_accept_every_item_of_an_accepted_sale(customer_service, identifier_service,
                                                                  monkeypatch_now, document):
    customers = customer_pb2_grpc.CustomerServiceStub(customer_service.channel)
    identifiers = identifier_pb2_grpc.IdentifierServiceStub(identifier_service.channel)
    event = accepted_event(document, tenant_id=f"t{uuid.uuid4().hex[:8]}")
    upsert, _ = requests_for(event, "")
    [result] = customers.UpsertCustomers(customer_pb2.UpsertCustomersRequest(items=[upsert]), timeout=30).results
    assert result.WhichOneof("result") == "upserted", result.error.message
    customer_id = result.upserted.customer.id or str(uuid.uuid4())  # an unidentified buyer links nothing
    _, assignments = requests_for(event, customer_id)
    if assignments:
        results = identifiers.AssignIdentifiers(identifier_pb2.AssignIdentifiersRequest(items=assignments),
                                                timeout=30).results
        assert [r.WhichOneof("result") for r in results] == ["response"] * len(assignments), [
            r.error.message for r in results if r.HasField("error")]
