"""The customer upsert rules (customer_service.domain), one test per rule, without I/O."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from common.errors import InvalidArgument
from customer_service.domain import (
    Candidates,
    CustomerFields,
    choose_target,
    plan_upsert,
)

T0 = datetime(2025, 9, 13, 14, 30, tzinfo=timezone.utc)


def stored(**fields):
    """A stored customer row as the repository returns it."""
    row = {
        "id": uuid.uuid4(),
        "tenant_id": "t1",
        "national_id": None,
        "email": None,
        "phone_number": None,
        "first_name": None,
        "last_name": None,
        "whatsapp_number": None,
        "data_observed_at": T0,
    }
    row.update(fields)
    return row


def test_parse_normalises_every_contact_field():
    parsed = CustomerFields.parse(
        {"national_id": " 12.345.678-k ", "email": " Cliente@Email.COM ", "phone_number": "+57 300 123 4567",
         "first_name": "  Diego  ", "whatsapp_number": "0057 300 1234567"}
    )
    assert parsed.national_id == "12345678K"
    assert parsed.email == "cliente@email.com"
    assert parsed.phone_number == "+573001234567"
    assert parsed.whatsapp_number == "+573001234567"
    assert parsed.first_name == "Diego"


def test_parse_requires_one_identity_field():
    with pytest.raises(InvalidArgument, match="at least one of national_id, email or phone_number"):
        CustomerFields.parse({"first_name": "Diego", "email": "  "})


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("email", "not-an-address", "not a valid e-mail"),
        ("phone_number", "call me", "E.164"),
        ("national_id", "12#34", "letters, digits"),
        ("first_name", "x" * 101, "too long"),
        ("first_name", "Die\x00go", "control characters"),
    ],
)
def test_parse_rejects_bad_fields_naming_them(field, value, message):
    data = {"email": "a@b.co", field: value}
    with pytest.raises(InvalidArgument, match=message) as caught:
        CustomerFields.parse(data)
    assert caught.value.field == field


def test_match_prefers_national_id_over_email_and_phone():
    by_email = stored(email="a@b.co")
    by_nid = stored(national_id="1020457896")
    by_phone = stored(phone_number="+573001234567")
    incoming = CustomerFields(national_id="1020457896", email="a@b.co", phone_number="+573001234567")
    assert choose_target(incoming, [by_email, by_phone, by_nid]) is by_nid


def test_match_falls_back_to_email_then_phone():
    by_email = stored(email="a@b.co")
    by_phone = stored(phone_number="+573001234567")
    assert choose_target(CustomerFields(email="a@b.co", phone_number="+573001234567"), [by_phone, by_email]) is by_email
    assert choose_target(CustomerFields(email="x@b.co", phone_number="+573001234567"), [by_phone]) is by_phone


def test_customer_with_another_national_id_is_never_matched_by_email():
    other_person = stored(national_id="52341987", email="a@b.co")
    plan = plan_upsert(CustomerFields(national_id="1020457896", email="a@b.co"), T0, [other_person])
    assert plan.creates
    assert plan.values == {"national_id": "1020457896"}
    assert [(c.field, c.other_customer_id) for c in plan.clashes] == [("email", str(other_person["id"]))]


def test_national_id_wins_when_email_belongs_to_someone_else():
    by_nid = stored(national_id="1020457896", email="old@b.co")
    other = stored(email="a@b.co")
    plan = plan_upsert(CustomerFields(national_id="1020457896", email="a@b.co", first_name="Ana"), T0, [by_nid, other])
    assert plan.target is by_nid
    assert "email" not in plan.values, "the clashing e-mail is not moved to the national-id match"
    assert plan.values == {"first_name": "Ana"}
    assert [(c.field, c.other_customer_id) for c in plan.clashes] == [("email", str(other["id"]))]


def test_newer_event_overwrites_present_fields():
    row = stored(email="a@b.co", first_name="Old", last_name="Name")
    plan = plan_upsert(CustomerFields(email="a@b.co", first_name="New"), T0 + timedelta(seconds=1), [row])
    assert plan.values == {"first_name": "New"}
    assert plan.data_observed_at == T0 + timedelta(seconds=1)


def test_event_as_new_as_stored_data_overwrites():
    row = stored(email="a@b.co", first_name="Old")
    assert plan_upsert(CustomerFields(email="a@b.co", first_name="New"), T0, [row]).values == {"first_name": "New"}


def test_older_event_does_not_overwrite_but_fills_blanks():
    row = stored(email="a@b.co", first_name="Current")
    plan = plan_upsert(
        CustomerFields(email="a@b.co", first_name="Stale", last_name="Filled"), T0 - timedelta(days=1), [row]
    )
    assert plan.values == {"last_name": "Filled"}
    assert plan.data_observed_at == T0, "an older event never moves the data time backwards"


def test_absent_fields_never_erase():
    row = stored(email="a@b.co", first_name="Keep", phone_number="+573001234567")
    plan = plan_upsert(CustomerFields(email="a@b.co"), T0 + timedelta(days=1), [row])
    assert plan.values == {}


def test_nothing_to_write_for_a_repeat_of_the_same_event():
    row = stored(email="a@b.co", first_name="Same")
    plan = plan_upsert(CustomerFields(email="a@b.co", first_name="Same"), T0, [row])
    assert not plan.changes_anything


def test_new_customer_takes_every_given_field():
    plan = plan_upsert(CustomerFields(email="a@b.co", phone_number="+573001234567", first_name="Ana"), T0, [])
    assert plan.creates
    assert plan.values == {"email": "a@b.co", "phone_number": "+573001234567", "first_name": "Ana"}
    assert plan.clashes == []


def test_candidates_find_a_buyer_by_any_contact_value_and_follow_updates():
    """The batch's candidate index answers what the SQL lookup would: rows holding one of the buyer's
    values, within the tenant, as they are after earlier writes of the batch."""
    row = {"id": 1, "tenant_id": "t", "national_id": "N1", "email": "a@x.co", "phone_number": None}
    other_tenant = {"id": 2, "tenant_id": "u", "national_id": "N1", "email": None, "phone_number": None}
    known = Candidates([row, other_tenant])
    assert known.for_buyer("t", CustomerFields(email="a@x.co")) == [row]
    assert known.for_buyer("t", CustomerFields(national_id="N1", email="a@x.co")) == [row]
    assert known.for_buyer("t", CustomerFields(phone_number="+571")) == []
    updated = {**row, "email": "b@x.co"}
    known.put(updated)
    assert known.for_buyer("t", CustomerFields(email="a@x.co")) == []
    assert known.for_buyer("t", CustomerFields(email="b@x.co")) == [updated]
    assert known.for_buyer("u", CustomerFields(national_id="N1")) == [other_tenant]
