"""Buyer values that identify nobody (common/buyer_identity.py): generic ids, fillers, tenant lists.

Every value goes through common.normalize first, as the processor receives it: the rules are written
for normalised values, and a POS types "66.666.666-6", not "666666666".
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import buyer_identity as bi
from common import normalize
from common.buyer_identity import (
    DEGENERATE_VALUE,
    EMAIL,
    GENERIC_NATIONAL_ID,
    GENERIC_NATIONAL_IDS,
    NATIONAL_ID,
    PHONE_NUMBER,
    PLACEHOLDER_EMAIL,
    PLACEHOLDER_PHONE,
    TENANT_LIST,
    WHATSAPP_NUMBER,
    Ignored,
    TenantList,
    reason_unusable,
    screen,
)


def nid(raw: str) -> str | None:
    return reason_unusable(NATIONAL_ID, normalize.national_id(raw))


def mail(raw: str) -> str | None:
    return reason_unusable(EMAIL, normalize.email(raw))


def phone(raw: str, field: str = PHONE_NUMBER) -> str | None:
    return reason_unusable(field, normalize.phone(raw))


# --- built-in generic ids ---------------------------------------------------------------------


@pytest.mark.parametrize("generic", GENERIC_NATIONAL_IDS, ids=lambda g: f"{g.country}-{g.value}")
def test_every_built_in_value_is_normalised_and_generic(generic):
    assert normalize.national_id(generic.value) == generic.value, "the table must hold normalised values"
    assert reason_unusable(NATIONAL_ID, generic.value) == GENERIC_NATIONAL_ID
    assert generic.country.isalpha() and generic.country.isupper() and len(generic.country) == 2
    assert generic.meaning and generic.source


@pytest.mark.parametrize("typed", [
    "222222222222", "222.222.222.222", " 222 222 222 222 ",  # CO, DIAN consumidor final
    "9999999999999",  # EC, SRI consumidor final
    "XAXX010101000", "xaxx010101000", "XAXX-010101-000", "XEXX010101000",  # MX, RFC genérico
    "66.666.666-6", "66666666-6", "666666666",  # CL, boleta
    "55.555.555-5", "55555555-5",  # CL, foreign receiver of an export document
    "44.444.446-0", "44444446-0",  # CL, foreign receiver of a boleta de honorarios
    "00000000", "99999999",  # PE, clientes varios
    "0",  # AR, DocTipo 99 DocNro 0
])
def test_generic_ids_as_pos_systems_type_them(typed):
    assert nid(typed) == GENERIC_NATIONAL_ID


def test_generic_ids_apply_whatever_the_buyers_country():
    """The buyer's country is unknown: a Mexican RFC genérico is refused on a Colombian sale too."""
    assert {g.country for g in GENERIC_NATIONAL_IDS} >= {"CO", "EC", "MX", "CL", "PE", "AR"}


# --- degenerate national ids ------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "1", "7", "11", "1111111", "0000000000", "000.000.000", "3333333333", "XXXXXXXX", "aaaaaa",
    "123456", "1234567", "123.456.789", "1234567890", "0123456789", "12345678901",
    "654321", "987654321", "9876543210", "0987654321", "7890123456",
])
def test_degenerate_national_ids(typed):
    assert nid(typed) == DEGENERATE_VALUE


@pytest.mark.parametrize("typed", [
    "1020304050", "79845123", "1.032.456.789", "52.871.963",  # CO cédulas
    "900.373.913-4",  # CO NIT with check digit
    "1710034065", "0926687856",  # EC cédulas
    "GODE561231GR8", "MELM8305281H0", "AAA010101AAA",  # MX RFCs
    "12.345.678-5", "7.654.321-K", "76.086.428-5",  # CL RUTs
    "45678912", "10293847",  # PE DNIs
    "20-12345678-6", "27-28033514-8", "30-71234567-1",  # AR CUITs
    "12345", "98765", "112233", "121212", "1234567891", "12345678K",  # short runs, near-runs
    "ZQ8675309K",
])
def test_real_looking_national_ids_stay_usable(typed):
    assert nid(typed) is None


# --- e-mails -----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    # reserved domains (RFC 2606 / RFC 6761)
    "ana@example.com", "buyer@shop.example.com", "x@example.net", "x@example.org", "Ana@EXAMPLE.ORG",
    # local parts that say "no e-mail" (Spanish, Portuguese, English), separators ignored
    "noemail@gmail.com", "no-email@gmail.com", "no.email@hotmail.com", "NoEmail@Gmail.com",
    "nomail@yahoo.com", "sinemail@gmail.com", "sincorreo@gmail.com", "sin.correo@gmail.com",
    "sin_correo@hotmail.com", "notiene@gmail.com", "no_tiene@gmail.com", "no.tiene@hotmail.com",
    "ninguno@gmail.com", "ninguna@gmail.com", "none@gmail.com", "null@gmail.com", "na@gmail.com",
    "nn@gmail.com", "n.a@gmail.com", "noreply@tienda.co", "no-reply@tienda.co", "nocorreo@gmail.com",
    "consumidorfinal@gmail.com", "consumidor.final@tienda.co", "sememail@gmail.com",
    "naotem@gmail.com", "nenhum@gmail.com", "noemail+pos1@gmail.com",
    # the field's own name, or a test
    "correo@gmail.com", "email@gmail.com", "mail@hotmail.com", "test@gmail.com", "prueba@gmail.com",
    "prueba1@gmail.com", "noemail2024@gmail.com", "teste@gmail.com",
    # one character repeated
    "aa@gmail.com", "xx@b.co", "xxxx@gmail.com", "x.x.x@gmail.com", "1111@gmail.com",
    # local part equal to the domain's first label
    "correo@correo.com", "test@test.com", "a@a.com", "tienda@tienda.co",
    # a domain that says there is no address
    "juan@noemail.com", "cliente@sincorreo.co", "maria@notiene.com",
])
def test_placeholder_emails(typed):
    assert mail(typed) == PLACEHOLDER_EMAIL


@pytest.mark.parametrize("typed", [
    "cliente@email.com",  # the integration guide's own example; the e2e tests send it
    "Cliente@EMAIL.com",
    "maria.gomez@gmail.com", "ventas@tienda.co", "juan.perez@hotmail.com", "jp@empresa.com.co",
    "ana.maria_lopez-99@outlook.es", "carlos+compras@gmail.com", "na85@gmail.com", "nnieto@gmail.com",
    "nadia@gmail.com", "tester.garcia@gmail.com", "pruebasanchez@gmail.com", "info@autentikapp.com",
    "contacto@email.com", "soporte@mail.com", "testa@test-labs.co",
    "a@gmail.com", "j@empresa.co",  # a single letter may be an initial
])
def test_real_emails_stay_usable(typed):
    assert mail(typed) is None


@pytest.mark.parametrize("value", ["x@foo.test", "x@foo.invalid", "x@localhost", "x@a.localhost", "x@shop.example"])
def test_reserved_tlds_even_when_a_caller_skipped_normalisation(value):
    """common.normalize already refuses most of these; the rule holds on its own anyway."""
    assert reason_unusable(EMAIL, value) == PLACEHOLDER_EMAIL


# --- phone numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "+571234567890", "+570000000000", "+573333333333", "+57 345 678 9012",
    "+525555555555", "+521234567890", "+56999999999", "+56987654321", "+51999999999", "+51987654321",
    "+541111111111", "+593999999999", "+12345678901", "+5511111111111",
    "+57 300 000 0000", "+57 310 999 9999", "+56 9 1000 0000", "+52 55 0000 0000",  # a prefix, then a filler
])
def test_placeholder_phones(typed):
    """One digit repeated, all zeros, a run of 7+ consecutive digits, or a prefix then 7+ of one digit,
    after the country code."""
    assert phone(typed) == PLACEHOLDER_PHONE


@pytest.mark.parametrize("typed", [
    "+571234567890", "+570000000000", "+573333333333", "+525555555555", "+56987654321",
    "+51987654321", "+593999999999", "+12345678901",
])
def test_placeholder_phones_on_both_phone_fields(typed):
    assert phone(typed, PHONE_NUMBER) == phone(typed, WHATSAPP_NUMBER) == PLACEHOLDER_PHONE


@pytest.mark.parametrize("typed", [
    "+573001234567", "+57 300 111 2233", "+573114445566", "+576014567890",  # CO mobile and Bogotá
    "+52 55 1234 5678", "+52 33 1234 5678",  # MX
    "+56 9 1234 5678", "+56 2 2345 6789",  # CL
    "+51 912 345 678", "+51 1 4567890",  # PE
    "+54 9 11 2345 6789", "+54 11 4321 8765",  # AR
    "+593 99 123 4567", "+593 2 245 6789",  # EC
])
def test_real_phones_stay_usable(typed):
    assert phone(typed) is None
    assert phone(typed, WHATSAPP_NUMBER) is None


def test_country_code_is_not_part_of_the_run():
    """+57 3001234567: "57" then a normal number; the run test looks at the national number only."""
    assert phone("+573001234567") is None
    assert phone("+12345678901") == PLACEHOLDER_PHONE  # country 1, national 2345678901


def test_unparseable_phone_falls_back_to_its_digits():
    assert reason_unusable(PHONE_NUMBER, "+0000000") == PLACEHOLDER_PHONE
    assert reason_unusable(PHONE_NUMBER, "not a phone") is None


# --- tenant list ---------------------------------------------------------------------------------


TENANT = TenantList.of(national_ids=["1.020.304.050"], emails=["Caja1@Tienda.co"], phone_numbers=["+57 601 456 7890"])


def test_tenant_list_is_normalised_like_the_buyer():
    assert TENANT == TenantList(frozenset({"1020304050"}), frozenset({"caja1@tienda.co"}),
                                frozenset({"+576014567890"}))


def test_tenant_list_values_identify_nobody():
    assert reason_unusable(NATIONAL_ID, "1020304050", TENANT) == TENANT_LIST
    assert reason_unusable(EMAIL, "caja1@tienda.co", TENANT) == TENANT_LIST
    assert reason_unusable(PHONE_NUMBER, "+576014567890", TENANT) == TENANT_LIST
    assert reason_unusable(WHATSAPP_NUMBER, "+576014567890", TENANT) == TENANT_LIST
    # without the list, the same values are ordinary
    assert {reason_unusable(f, v) for f, v in [(NATIONAL_ID, "1020304050"), (EMAIL, "caja1@tienda.co"),
                                               (PHONE_NUMBER, "+576014567890")]} == {None}


def test_tenant_list_is_checked_first_and_per_field():
    tenant = TenantList(national_ids=frozenset({"222222222222"}))
    assert reason_unusable(NATIONAL_ID, "222222222222", tenant) == TENANT_LIST
    assert reason_unusable(EMAIL, "1020304050", TenantList(national_ids=frozenset({"1020304050"}))) is None
    assert reason_unusable(NATIONAL_ID, "222222222222", TenantList()) == GENERIC_NATIONAL_ID


# --- screen --------------------------------------------------------------------------------------


def test_screen_drops_unusable_values_and_says_why_in_field_order():
    values = {"whatsapp_number": "+573333333333", "first_name": "Consumidor", "email": "noemail@gmail.com",
              "national_id": "222222222222", "phone_number": "+573001234567", "last_name": "Final"}
    kept, ignored = screen(values)
    assert kept == {"whatsapp_number": "", "first_name": "Consumidor", "email": "", "national_id": "",
                    "phone_number": "+573001234567", "last_name": "Final"}
    assert ignored == [Ignored(NATIONAL_ID, GENERIC_NATIONAL_ID), Ignored(EMAIL, PLACEHOLDER_EMAIL),
                       Ignored(WHATSAPP_NUMBER, PLACEHOLDER_PHONE)]
    assert values["national_id"] == "222222222222", "screen must not modify its input"


def test_screen_keeps_a_real_buyer_whole():
    values = {"national_id": "1020304050", "email": "cliente@email.com", "phone_number": "+573001234567",
              "whatsapp_number": "", "first_name": "Ana"}
    assert screen(values) == (values, [])


def test_screen_leaves_absent_and_other_fields_alone():
    assert screen({"national_id": "", "email": "", "sku": "0000000"}) == (
        {"national_id": "", "email": "", "sku": "0000000"}, [])
    assert screen({}) == ({}, [])


def test_screen_with_a_tenant_list():
    kept, ignored = screen({"email": "caja1@tienda.co", "national_id": "0"}, TENANT)
    assert kept == {"email": "", "national_id": ""}
    assert ignored == [Ignored(NATIONAL_ID, GENERIC_NATIONAL_ID), Ignored(EMAIL, TENANT_LIST)]


# --- properties ----------------------------------------------------------------------------------

_IDS = st.one_of(
    st.sampled_from([g.value for g in GENERIC_NATIONAL_IDS] + ["1020304050", "123456", "0000", "GODE561231GR8"]),
    st.text(alphabet="0123456789ABCKXZ", min_size=1, max_size=14),
)
_LOCAL = st.one_of(st.sampled_from(["noemail", "cliente", "maria.gomez", "a", "correo", "ventas", "test"]),
                   st.text(alphabet="abcxyz0189._-+", min_size=1, max_size=12))
_DOMAIN = st.sampled_from(["gmail.com", "email.com", "correo.com", "example.com", "tienda.co", "noemail.com",
                           "a.com", "test.com"])
_EMAILS = st.builds(lambda local, domain: f"{local}@{domain}", _LOCAL, _DOMAIN)
_PHONES = st.one_of(
    st.sampled_from(["+573001234567", "+571234567890", "+573333333333", "+56912345678", "+51987654321"]),
    st.builds(lambda cc, n: f"+{cc}{n}", st.sampled_from(["57", "52", "56", "51", "54", "593", "1"]),
              st.text(alphabet="0123456789", min_size=7, max_size=11)),
)
_VALUES = st.fixed_dictionaries({}, optional={
    NATIONAL_ID: st.one_of(st.just(""), _IDS),
    EMAIL: st.one_of(st.just(""), _EMAILS),
    PHONE_NUMBER: st.one_of(st.just(""), _PHONES),
    WHATSAPP_NUMBER: st.one_of(st.just(""), _PHONES),
    "first_name": st.text(max_size=10),
    "sku": _IDS,
})
_TENANTS = st.one_of(st.none(), st.builds(
    TenantList, st.frozensets(_IDS, max_size=3), st.frozensets(_EMAILS, max_size=3),
    st.frozensets(_PHONES, max_size=3)))


@settings(max_examples=300, deadline=None)
@given(values=_VALUES, tenant=_TENANTS)
def test_screen_only_ever_removes_and_is_idempotent(values, tenant):
    kept, ignored = screen(values, tenant)
    assert kept.keys() == values.keys()
    for key, value in values.items():
        reason = reason_unusable(key, value, tenant)
        if key not in bi.SCREENED_FIELDS or reason is None:
            assert kept[key] == value, "a usable value (or another field) is kept unchanged"
        else:
            assert kept[key] == "", "an unusable value becomes absent, never another value"
    assert [i.field for i in ignored] == [f for f in bi.SCREENED_FIELDS if values.get(f) and kept[f] == ""]
    assert all(i.reason == reason_unusable(i.field, values[i.field], tenant) for i in ignored)
    assert screen(kept, tenant) == (kept, []), "screening twice changes nothing"
