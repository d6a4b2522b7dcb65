"""Normalisation of contact fields and validation of ids, shared by the gateway and the services."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from common import ids, normalize, paging
from common.errors import InvalidArgument


@pytest.mark.parametrize("raw", ["123456789", "123.456.789", " 123 456 789 ", "123-456-789"])
def test_national_id_separators_are_ignored(raw):
    assert normalize.national_id(raw) == "123456789"


def test_email_case_is_folded():
    assert normalize.email("Cliente@EMAIL.com") == normalize.email("cliente@email.com") == "cliente@email.com"


@pytest.mark.parametrize("raw", ["+573001234567", "+57 300 123 4567", "+57 (300) 123-4567", "0057 300 123 4567"])
def test_phone_is_e164(raw):
    assert normalize.phone(raw) == "+573001234567"


def test_phone_without_country_code_needs_a_region():
    with pytest.raises(InvalidArgument, match="country code"):
        normalize.phone("3001234567")
    assert normalize.phone("3001234567", default_region="CO") == "+573001234567"


def test_a_cached_normalisation_answers_what_the_rule_answers():
    """The e-mail and phone caches only remember: the second call of a value returns what the rule
    itself (uncached) returns, and the region is part of what is remembered."""
    normalize._email.cache_clear()
    normalize._phone.cache_clear()
    for _ in range(2):
        assert normalize.email("Cliente@EMAIL.com") == normalize._email.__wrapped__("Cliente@EMAIL.com")
        assert normalize.phone("3001234567", default_region="CO") == "+573001234567"
        assert normalize.phone("3001234567", default_region="AR") == normalize._phone.__wrapped__("3001234567", "AR")[0]
    assert normalize._email.cache_info().hits == 1
    assert normalize._phone.cache_info().hits == 2
    assert normalize.phone("3001234567", default_region="AR") != "+573001234567"


def test_a_refusal_is_not_cached_and_names_each_field():
    """The same bad number refused as phone_number and then as whatsapp_number names each its field;
    nothing is remembered for it."""
    normalize._phone.cache_clear()
    with pytest.raises(InvalidArgument, match="^phone_number is not a possible") as first:
        normalize.phone("+5712", "phone_number")
    with pytest.raises(InvalidArgument, match="^whatsapp_number is not a possible") as second:
        normalize.phone("+5712", "whatsapp_number")
    assert (first.value.field, second.value.field) == ("phone_number", "whatsapp_number")
    with pytest.raises(InvalidArgument, match="^email is not a valid e-mail address: "):
        normalize.email("no-at-sign")
    assert normalize._phone.cache_info().currsize == 0
    assert normalize._email.cache_info().maxsize == normalize.CACHE_ENTRIES


def _parsed_national_number(value: str) -> str:
    """What the national significant number of a value was before phone() cached it: a parse of its own."""
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", value)


def test_the_national_number_of_a_normalised_phone_is_the_one_its_own_parse_gives():
    """For every region's example numbers (fixed, mobile, Italian leading zeros included), normalised first
    or not, and for values that are not E.164 at all, national_number answers what parsing the value
    itself answers."""
    values = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                values.append(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    assert len(values) > 300
    for value in values:
        normalize._phone.cache_clear()
        cold = normalize.national_number(value)
        assert normalize.phone(value) == value
        assert normalize.national_number(value) == cold == _parsed_national_number(value), value
    for odd in ("+5712", "+", "+0001234", "573001234567", "+57 300 123 4567", "+57300123456789012345"):
        assert normalize.national_number(odd) == _parsed_national_number(odd), odd


def test_empty_values_are_absent_not_errors():
    assert normalize.email("  ") == normalize.phone(None) == normalize.national_id("") == ""


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "a*", "x" * 65, "../etc", "-leading", "acme\n"])
def test_tenant_ids_safe_for_subjects_and_urls(bad):
    with pytest.raises(InvalidArgument):
        ids.tenant_id(bad)


def test_codes_accept_uuids_and_refuse_whitespace():
    assert ids.code("a1b2c3d4-e5f6-7890-1234-567890abcdef")
    for bad in ["", "a b", "x" * 129, "código", "abc\n"]:
        with pytest.raises(InvalidArgument):
            ids.code(bad)


def test_customer_uuid_is_canonical():
    assert ids.customer_uuid("A1B2C3D4-E5F6-7890-1234-567890ABCDEF") == "a1b2c3d4-e5f6-7890-1234-567890abcdef"
    with pytest.raises(InvalidArgument, match="UUID"):
        ids.customer_uuid("42")


def test_page_token_round_trip_and_scope():
    token = paging.encode({"tenant": "a"}, ["k"])
    assert paging.decode(token, {"tenant": "a"}, (paging.text,)) == ["k"]
    assert paging.decode("", {"tenant": "a"}, (paging.text,)) is None
    with pytest.raises(InvalidArgument, match="another tenant"):
        paging.decode(token, {"tenant": "b"}, (paging.text,))
    with pytest.raises(InvalidArgument, match="not a token"):
        paging.decode("!!!", {"tenant": "a"}, (paging.text,))


@pytest.mark.parametrize("after", [
    ["2025-01-01T00:00:00", "8a0c5f4e-8c2e-4b8e-9a43-2f8b1f0a6c11"],  # a time without its offset
    ["not a time", "8a0c5f4e-8c2e-4b8e-9a43-2f8b1f0a6c11"],
    ["2025-01-01T00:00:00+00:00", "not-a-uuid"],
    [{"x": 1}, []],
    ["2025-01-01T00:00:00+00:00"],
])
def test_a_forged_customer_page_token_is_invalid_argument_before_any_query(after):
    """Tokens are not signed: one built by hand with the right scope must still be refused as a token,
    not reach the query and fail there as INTERNAL."""
    scope = {"tenant": "a"}
    with pytest.raises(InvalidArgument, match="not a token this service issued"):
        paging.decode(paging.encode(scope, after), scope, (paging.timestamp, paging.uuid_text))


@pytest.mark.parametrize("after", [["CODE\x00"], ["x" * 1001], [7], [None]])
def test_a_forged_code_page_token_is_invalid_argument(after):
    scope = {"tenant": "a", "customer": None}
    with pytest.raises(InvalidArgument, match="not a token this service issued"):
        paging.decode(paging.encode(scope, after), scope, (paging.text,))


def test_page_size_bounds():
    assert paging.page_size(0) == paging.DEFAULT_PAGE_SIZE
    with pytest.raises(InvalidArgument):
        paging.page_size(paging.MAX_PAGE_SIZE + 1)
    with pytest.raises(InvalidArgument):
        paging.page_size(-1)


def test_an_id_keyed_page_token_resumes_after_its_id_and_refuses_other_shapes():
    import pytest

    from common import paging
    from common.errors import InvalidArgument

    scope = {"tenant": "t1", "code": "C1"}
    assert paging.decode_after_id("", scope) is None
    assert paging.decode_after_id(paging.encode(scope, [42]), scope) == 42
    for after in (["CODE-9"], [1, 2], [True], [], [0], [2**63]):
        with pytest.raises(InvalidArgument, match="not a token this service issued"):
            paging.decode_after_id(paging.encode(scope, after), scope)
    with pytest.raises(InvalidArgument, match="another tenant or filter"):
        paging.decode_after_id(paging.encode({"tenant": "t2", "code": "C1"}, [42]), scope)
