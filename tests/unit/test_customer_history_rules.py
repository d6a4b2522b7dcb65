"""The customer history rows a batch plans (customer_service.service.plan_batch), and the masks of
`autentikapp customers history`, without I/O (docs/design.md "Customer history")."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from cli.customers import mask_value
from customer_service.domain import Candidates, CustomerFields
from customer_service.service import UpsertItem, plan_batch

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)
NOW = datetime(2025, 9, 14, 8, 0, tzinfo=timezone.utc)


def item(at=T0, event_id="", **data) -> UpsertItem:
    return UpsertItem("t1", CustomerFields(**data), at, event_id=event_id)


def stored(**fields):
    row = {"id": uuid.uuid4(), "tenant_id": "t1", "national_id": None, "email": None, "phone_number": None,
           "first_name": None, "last_name": None, "whatsapp_number": None, "data_observed_at": T0,
           "created_at": T0, "updated_at": T0, "erased_at": None}
    row.update(fields)
    return row


def entries(history):
    return [(h["field"], h["value"], h["event_id"], h["observed_at"]) for h in history]


def test_a_batch_plans_one_row_per_field_set_or_changed_in_item_order():
    later = T0 + timedelta(hours=1)
    results, created, _, history = plan_batch([
        item(event_id="evt_a", email="ana@correo-tienda.co", first_name="Ana"),
        item(event_id="evt_same", email="ana@correo-tienda.co", first_name="Ana"),  # changes nothing
        item(at=later, event_id="evt_b", email="ana@correo-tienda.co", first_name="Ana María", last_name="Gómez"),
        item(email=""),  # unidentified
    ], Candidates([]), NOW)
    [row] = created
    assert entries(history) == [
        ("email", "ana@correo-tienda.co", "evt_a", T0), ("first_name", "Ana", "evt_a", T0),
        ("first_name", "Ana María", "evt_b", later), ("last_name", "Gómez", "evt_b", later)]
    assert {(h["customer_id"], h["tenant_id"], h["recorded_at"]) for h in history} == {(row["id"], "t1", NOW)}
    assert results[3].unidentified


def test_an_older_event_plans_only_the_blank_it_fills_and_a_clash_nothing():
    ana = stored(email="ana@correo-tienda.co", first_name="Ana")
    other = stored(phone_number="+573104567890")
    _, _, changed, history = plan_batch([item(
        at=T0 - timedelta(days=1), event_id="evt_old", email="ana@correo-tienda.co", first_name="Anita",
        last_name="Gómez", phone_number="+573104567890")], Candidates([ana, other]), NOW)
    assert [row["id"] for row in changed] == [ana["id"]]
    assert entries(history) == [("last_name", "Gómez", "evt_old", T0 - timedelta(days=1))]
    assert history[0]["customer_id"] == ana["id"]


def test_no_event_id_is_stored_as_none():
    _, _, _, history = plan_batch([item(email="ana@correo-tienda.co")], Candidates([]), NOW)
    assert [h["event_id"] for h in history] == [None]


def test_the_cli_masks_each_field():
    assert [mask_value(field, value) for field, value in (
        ("national_id", "1020457896"), ("email", "ana.gomez@correo-tienda.co"), ("phone_number", "+573104567890"),
        ("whatsapp_number", "+573157771234"), ("first_name", "Ana"), ("last_name", "Gómez"), ("other", "x"),
    )] == ["***896", "a***@correo-tienda.co", "***7890", "***1234", "A***", "G***", "***"]
