"""The work message's size bound that GATEWAY_MAX_BODY_BYTES is checked against at start
(gateway/settings.py max_event_bytes): the largest events the payload rules let through stay under it,
and a body cap whose events would not fit the bus's message size is refused, naming what fits."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from common import limits, work_message
from common.bus import DEFAULT_MAX_MESSAGE_BYTES
from common.config import ConfigError
from gateway import buyer_rules, json_body, payload
from gateway.buyer_rules import BuyerRules
from gateway.event_ids import content_digest
from gateway.settings import DEFAULT_MAX_BODY_BYTES, GatewaySettings, largest_body_for, max_event_bytes

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
WIDE = "\U0001F600"  # 4 bytes in UTF-8: the most a character costs
AMOUNT = "999999999999999999.999999999999"  # 18 integer digits and 12 decimals, the caps


def largest_rules() -> BuyerRules:
    """A tenant's buyer rules at every cap."""
    count = buyer_rules.MAX_VALUES_PER_FIELD
    return BuyerRules("CO", tuple("9" * (limits.MAX_NATIONAL_ID - 3) + f"{i:03d}" for i in range(count)),
                      tuple("e" * (limits.MAX_EMAIL - 10) + f"{i:03d}@x.com" for i in range(count)),
                      tuple(f"+5730{i:08d}" for i in range(count)))


def event_bytes(document: dict) -> tuple[int, int]:
    """(body size, work message size with its headers) of a sale sent as compact JSON."""
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).replace(
        json.dumps(AMOUNT), AMOUNT).encode()  # the largest amount, written as a JSON number
    sale = payload.parse_event(json_body.loads(raw), NOW)
    event = payload.build_event("t" * limits.MAX_TENANT_ID, sale, raw, NOW, largest_rules())
    headers = work_message.headers(event.event_id, event.tenant_id, digest=content_digest(sale),
                                   source="standard-webhooks", delivery_id="m" * 256)
    return len(raw), len(event.SerializeToString()) + sum(len(k) + len(v) + 4 for k, v in headers.items())


@pytest.mark.parametrize("character", ["x", "ñ", WIDE])
def test_a_sale_at_every_cap_stays_under_the_bound_of_its_body(character):
    """Every string at its cap, in 1-, 2- and 4-byte characters, 500 line items, the largest amounts and
    quantities, the tenant's rules at their caps: the message stays under max_event_bytes(body)."""
    document = {
        "event_type": "transaction.created", "event_timestamp": "2025-09-13T14:30:00.123456+05:00",
        "customer_data": {"national_id": "1" * limits.MAX_NATIONAL_ID, "email": "a" * 240 + "@example.com",
                          "phone_number": "+573001234567", "whatsapp_number": "+573001234567",
                          "first_name": character * limits.MAX_NAME, "last_name": character * limits.MAX_NAME},
        "transaction_data": {
            "transaction_id": character * limits.MAX_TRANSACTION_ID, "currency": "COP",
            "total_amount": AMOUNT,
            "line_items": [{"product_sku": character * limits.MAX_SKU, "product_name": character * limits.MAX_PRODUCT_NAME,
                            "quantity": limits.MAX_QUANTITY, "autentikapp_code": f"{i:04d}" + "C" * (limits.MAX_CODE - 4),
                            "unit_price": AMOUNT}
                           for i in range(limits.MAX_LINE_ITEMS)],
        },
    }
    body, message = event_bytes(document)
    assert message <= max_event_bytes(body), (body, message)


def test_the_default_body_cap_fits_the_default_message_size():
    assert max_event_bytes(DEFAULT_MAX_BODY_BYTES) <= DEFAULT_MAX_MESSAGE_BYTES
    assert max_event_bytes(DEFAULT_MAX_BODY_BYTES + 1024) > DEFAULT_MAX_MESSAGE_BYTES


def test_a_body_cap_whose_events_would_not_fit_is_refused_at_start_naming_what_fits(monkeypatch):
    monkeypatch.setenv("GATEWAY_MAX_BODY_BYTES", str(512 * 1024))
    with pytest.raises(ConfigError) as refused:
        GatewaySettings.from_env()
    assert "GATEWAY_MAX_BODY_BYTES=524288" in str(refused.value)
    assert f"at most {largest_body_for(DEFAULT_MAX_MESSAGE_BYTES)}" in str(refused.value)
    monkeypatch.setenv("BUS_MAX_MESSAGE_BYTES", str(2 * 1024 * 1024))
    assert GatewaySettings.from_env().max_body_bytes == 512 * 1024
