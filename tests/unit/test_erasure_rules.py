"""Erasure on request, the pure rules (docs/design.md "Erasure"): the suppression-list digest, which buyer
values an erasure sets aside and when, the request's checks, the dead-letter purge's matching, and the
dead-letter stream's retention setting."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from nats.js.api import RawStreamMsg

from autentikapp.v1 import customer_pb2, events_pb2
from common import bus
from common.buyer_identity import Ignored
from common.config import ConfigError
from common.dead_letter_message import DeadLetter
from common.errors import InvalidArgument
from customer_service import domain, erasure
from customer_service.domain import CustomerFields
from processor import dead_letter_admin

ERASED_AT = datetime(2025, 10, 1, 12, 0, tzinfo=timezone.utc)
ANA = {"national_id": "1020457896", "email": "ana.gomez@correo-tienda.co", "phone_number": "+573104567890",
       "first_name": "Ana", "last_name": "Gómez", "whatsapp_number": "+573157771234"}


def listed(tenant_id: str, **values: str) -> dict[str, datetime]:
    """A suppression list holding these values of the tenant, erased at ERASED_AT."""
    return {erasure.identity_digest(tenant_id, field, value): ERASED_AT for field, value in values.items()}


# --- the digest ---------------------------------------------------------------------------------------

def test_the_digest_is_sha256_of_tenant_field_and_value_in_hex():
    digest = erasure.identity_digest("t1", "national_id", "1020457896")
    assert digest == hashlib.sha256(b"t1\x00national_id\x001020457896").hexdigest()
    assert len(digest) == 64 and digest == digest.lower() and "1020457896" not in digest


def test_the_digest_depends_on_the_tenant_the_field_and_the_value():
    base = erasure.identity_digest("t1", "national_id", "1020457896")
    assert erasure.identity_digest("t2", "national_id", "1020457896") != base
    assert erasure.identity_digest("t1", "email", "1020457896") != base
    assert erasure.identity_digest("t1", "national_id", "1020457897") != base
    # No ambiguity from concatenation: the separator is a NUL, which no tenant id or field holds.
    assert erasure.identity_digest("t1", "email", "x") != erasure.identity_digest("t1\0email", "email", "x")


def test_a_phone_number_has_one_digest_in_either_phone_field():
    assert (erasure.identity_digest("t1", "whatsapp_number", "+573104567890")
            == erasure.identity_digest("t1", "phone_number", "+573104567890"))


def test_a_customers_digests_cover_its_identity_values_not_its_names():
    digests = erasure.customer_digests("t1", {**ANA, "first_name": "Ana", "whatsapp_number": None})
    assert digests == sorted({erasure.identity_digest("t1", f, ANA[f]) for f in ("national_id", "email", "phone_number")})
    same_number = erasure.customer_digests("t1", {"phone_number": "+573104567890", "whatsapp_number": "+573104567890"})
    assert len(same_number) == 1, "one number, one digest"
    assert erasure.held_fields({**ANA, "email": None, "last_name": ""}) == [
        "national_id", "phone_number", "first_name", "whatsapp_number"]


# --- which values an erasure sets aside ----------------------------------------------------------------

@pytest.mark.parametrize("observed_at", [ERASED_AT - timedelta(days=30), ERASED_AT])
def test_an_event_not_newer_than_the_erasure_loses_every_erased_value(observed_at):
    incoming = CustomerFields(**ANA)
    kept, ignored = domain.screen_erased("t1", incoming, observed_at, listed("t1", **{
        f: ANA[f] for f in ("national_id", "email", "phone_number", "whatsapp_number")}))
    assert not kept.identified, "nothing identifies the buyer any more: unidentified, nothing written"
    assert (kept.national_id, kept.email, kept.phone_number, kept.whatsapp_number) == ("", "", "", "")
    assert (kept.first_name, kept.last_name) == ("Ana", "Gómez"), "names never identify; unidentified writes nothing"
    assert ignored == [Ignored(f, "erased") for f in ("national_id", "email", "phone_number", "whatsapp_number")]


def test_an_event_newer_than_the_erasure_is_processed_normally():
    incoming = CustomerFields(**ANA)
    kept, ignored = domain.screen_erased("t1", incoming, ERASED_AT + timedelta(seconds=1),
                                         listed("t1", national_id=ANA["national_id"], email=ANA["email"]))
    assert (kept, ignored) == (incoming, [])


def test_only_the_erased_values_go_other_keys_stay():
    incoming = CustomerFields(national_id=ANA["national_id"], email="ana.nueva@correo-tienda.co")
    kept, ignored = domain.screen_erased("t1", incoming, ERASED_AT - timedelta(hours=1),
                                         listed("t1", national_id=ANA["national_id"]))
    assert (kept.national_id, kept.email) == ("", "ana.nueva@correo-tienda.co")
    assert kept.identified
    assert ignored == [Ignored("national_id", "erased")]


def test_another_tenants_erasure_changes_nothing():
    incoming = CustomerFields(**ANA)
    kept, ignored = domain.screen_erased("t1", incoming, ERASED_AT - timedelta(days=1),
                                         listed("t2", national_id=ANA["national_id"], email=ANA["email"]))
    assert (kept, ignored) == (incoming, [])


def test_the_erased_number_is_set_aside_in_the_other_phone_field():
    incoming = CustomerFields(email="otra.persona@correo-tienda.co", whatsapp_number=ANA["phone_number"])
    kept, ignored = domain.screen_erased("t1", incoming, ERASED_AT, listed("t1", phone_number=ANA["phone_number"]))
    assert (kept.email, kept.whatsapp_number) == ("otra.persona@correo-tienda.co", "")
    assert ignored == [Ignored("whatsapp_number", "erased")]


def test_set_aside_values_are_merged_in_field_order():
    merged = erasure.merge_ignored([Ignored("email", "placeholder_email")],
                                   [Ignored("whatsapp_number", "erased"), Ignored("national_id", "erased")])
    assert merged == (Ignored("national_id", "erased"), Ignored("email", "placeholder_email"),
                      Ignored("whatsapp_number", "erased"))


# --- the request ---------------------------------------------------------------------------------------

def test_the_request_names_who_asked_and_an_optional_one_line_reason():
    assert erasure.check_request("  DPO Laura Ruiz ", " ticket HD-2025-118 ") == ("DPO Laura Ruiz", "ticket HD-2025-118")
    assert erasure.check_request("dpo", "") == ("dpo", "")


@pytest.mark.parametrize("requested_by,reason,field", [
    ("", "", "requested_by"),
    ("   ", "x", "requested_by"),
    ("x" * 201, "", "requested_by"),
    ("dpo", "x" * 501, "reason"),
    ("dpo\nrm", "", "requested_by"),
    ("dpo", "a\x1b[31m", "reason"),
])
def test_a_bad_request_is_refused_naming_the_field(requested_by, reason, field):
    with pytest.raises(InvalidArgument) as raised:
        erasure.check_request(requested_by, reason)
    assert raised.value.field == field


# --- the dead-letter purge's matching -------------------------------------------------------------------

def entry(data: bytes, sequence: int = 1) -> DeadLetter:
    return DeadLetter.from_raw(RawStreamMsg(subject="webhooks.dead.t1", seq=sequence, data=data, headers={}))


def event_with(country: str = "", **customer: str) -> bytes:
    return events_pb2.WebhookEvent(
        event_id="evt_1", tenant_id="t1", sale=events_pb2.Sale(customer=customer_pb2.CustomerData(**customer)),
        buyer_rules=customer_pb2.BuyerIdentityRules(default_country=country)).SerializeToString()


def test_a_dead_letters_buyer_digests_are_those_the_erasure_lists():
    found = dead_letter_admin.buyer_digests(entry(event_with(**ANA)), "t1")
    assert set(erasure.customer_digests("t1", ANA)) <= found
    assert erasure.identity_digest("t1", "phone_number", ANA["whatsapp_number"]) in found


def test_a_dead_letters_values_are_matched_normalised_too():
    found = dead_letter_admin.buyer_digests(
        entry(event_with(country="CO", national_id="1.020.457.896", email="Ana.Gomez@Correo-Tienda.co",
                         phone_number="310 456 7890")), "t1")
    keys = {f: ANA[f] for f in ("national_id", "email", "phone_number")}
    assert set(erasure.customer_digests("t1", keys)) <= found


def test_a_dead_letter_with_an_invalid_value_still_matches_by_the_others():
    found = dead_letter_admin.buyer_digests(entry(event_with(national_id="1020457896", email="not-an-email@")), "t1")
    assert erasure.identity_digest("t1", "national_id", "1020457896") in found


def test_an_undecodable_dead_letter_has_no_digests():
    assert dead_letter_admin.buyer_digests(entry(b"this is not a protobuf message"), "t1") is None


# --- retention of the dead letters ----------------------------------------------------------------------

def test_the_dead_letter_streams_max_age_is_a_setting_of_30_days_by_default(monkeypatch):
    monkeypatch.delenv("BUS_DEAD_LETTER_MAX_AGE_SECONDS", raising=False)
    settings = bus.BusSettings.from_env()
    assert settings.dead_letter_max_age_seconds == 30 * 24 * 3600
    assert bus.dead_letter_stream_config(settings).max_age == 30 * 24 * 3600
    monkeypatch.setenv("BUS_DEAD_LETTER_MAX_AGE_SECONDS", "86400")
    assert bus.dead_letter_stream_config(bus.BusSettings.from_env()).max_age == 86400
    monkeypatch.setenv("BUS_DEAD_LETTER_MAX_AGE_SECONDS", "10")
    with pytest.raises(ConfigError, match="BUS_DEAD_LETTER_MAX_AGE_SECONDS"):
        bus.BusSettings.from_env()
