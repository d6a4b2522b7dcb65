"""A 202 means the sale will be processed: every sale the gateway's payload rules accept passes the
services' own checks, item by item, as the processor sends it (same caps and rules, common/limits.py).
In-process, with the services' request parsing and checks and no database; the integration twin sends
fewer examples through the real services."""

from __future__ import annotations

import uuid

from accepted_sales import accepted_documents, accepted_event, requests_for
from hypothesis import HealthCheck, given, settings

from customer_service import grpc_api as customer_api
from customer_service import service as customer_service
from identifier_service import grpc_api as identifier_api
from identifier_service import service as identifier_service


@settings(max_examples=250, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(accepted_documents())
def test_every_accepted_sale_passes_the_services_checks(monkeypatch_now, document):
    event = accepted_event(document)
    upsert, assignments = requests_for(event, str(uuid.uuid4()))
    customer_service.check_item(customer_api.upsert_item(upsert))
    for request in assignments:
        identifier_service.checked(identifier_api.assignment(request))


def test_a_sale_at_every_cap_at_once_is_accepted_and_passes_the_services_checks(monkeypatch_now):
    """The corner the property covers only by chance: every field at its cap in one sale, with inner
    spaces that normalising collapses."""
    from common import limits

    document = {
        "event_type": "transaction.created",
        "event_timestamp": "2000-01-01T00:00:00Z",
        "customer_data": {"national_id": "1" + "-2" * (limits.MAX_NATIONAL_ID - 1), "email": "Cliente@Email.COM",
                          "phone_number": "(+57) 300-123-4567", "first_name": "ñ" * limits.MAX_NAME,
                          "last_name": "名  " * (limits.MAX_NAME // 3)},
        "transaction_data": {
            "transaction_id": "FV  " + "0" * (limits.MAX_TRANSACTION_ID - 4),
            "line_items": [{"product_sku": "S" * limits.MAX_SKU, "product_name": "Ñ" * limits.MAX_PRODUCT_NAME,
                            "quantity": limits.MAX_QUANTITY, "autentikapp_code": "C" * limits.MAX_CODE}]
            * limits.MAX_LINE_ITEMS,
        },
    }
    event = accepted_event(document)
    upsert, assignments = requests_for(event, str(uuid.uuid4()))
    customer_service.check_item(customer_api.upsert_item(upsert))
    assert len(assignments) == limits.MAX_LINE_ITEMS
    for request in assignments:
        assert len(request.provenance.product_name) == limits.MAX_PRODUCT_NAME
        identifier_service.checked(identifier_api.assignment(request))
