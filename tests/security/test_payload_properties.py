"""Property: random mutations of the guide's payload, correctly signed, never get a 5xx; the valid ones
get 202 (and are published with their exact bytes), the invalid ones a 4xx problem+json naming what
is wrong.

The generator knows, by construction, what each mutation does to validity: every field is kept with
a random valid value (random unicode, random sizes up to its cap), or dropped, nulled, given a wrong
JSON type, given a value that breaks its rule, or given a lone surrogate; containers may be dropped or
replaced; unknown members are sprinkled everywhere. The expected answer follows from those choices,
not from the gateway's code: 400 when a lone surrogate is anywhere, else 422 naming at least every
broken field, else 202.

The real Flask app with the real payload rules runs in-process on a fake tenants store and a fake
publisher. Derandomized (the examples depend only on this file), 200 examples.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from security_support import SECRET, RecordingPublisher, make_app
from system_support import sign

from autentikapp.v1 import events_pb2

URL = "/v1/webhooks/inbound/acme"
SURROGATE = "\ud800"
EVENT_ID = re.compile(r"^evt_[0-9a-f]{32}$")


# -- values --------------------------------------------------------------------------------------------

def free_text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Any unicode but control characters and surrogates (the payload rules refuse the first, strict
    JSON the second); sizes up to the field's cap."""
    return st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=min_size, max_size=max_size)


def amounts() -> st.SearchStrategy[Decimal | int]:
    """Valid amounts: >= 0, at most 18 integer digits and 12 decimals."""
    return st.one_of(
        st.integers(0, 10 ** 18 - 1),
        st.integers(0, 12).flatmap(lambda places: st.decimals(
            min_value=0, max_value=Decimal(10 ** 17), places=places, allow_nan=False, allow_infinity=False)),
    )


def timestamps() -> st.SearchStrategy[str]:
    """ISO 8601 date-times with an offset or Z, in the past and not before 2000-01-01 in UTC."""
    offsets = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
    moments = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2024, 12, 31), timezones=offsets)
    return st.one_of(moments.map(datetime.isoformat),
                     moments.map(lambda m: m.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")))


PHONES = ["+573001234567", "+57 (300) 123-4567", "0057 300 123 4567", "+14155552671", "+442071838750",
          "+5491123456789", "+34600123456"]
wrong_for_string = st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
                             st.dictionaries(st.text(string.ascii_letters, max_size=3), st.integers(), max_size=1))
wrong_for_number = st.one_of(st.text(string.ascii_letters, max_size=5), st.booleans(),
                             st.lists(st.integers(), max_size=2),
                             st.dictionaries(st.text(string.ascii_letters, max_size=3), st.integers(), max_size=1))


@dataclass(frozen=True)
class Spec:
    """One field: its valid values, wrong JSON types, and right-typed values that break its rule."""

    valid: st.SearchStrategy
    wrong: st.SearchStrategy
    breaking: st.SearchStrategy
    is_string: bool = True


SPECS = {
    "event_type": Spec(st.sampled_from(["transaction.created", " transaction.created "]), wrong_for_string,
                       st.sampled_from(["transaction.updated", "TRANSACTION.CREATED", "x" * 65])),
    "event_timestamp": Spec(timestamps(), wrong_for_string,
                            st.sampled_from(["2025-09-13T14:30:00", "13/09/2025", "9999-12-31T23:59:59Z", "x" * 65,
                                             "1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z",
                                             "2000-01-01T08:00:00+09:00"])),
    "national_id": Spec(st.from_regex(r"\A[0-9A-Za-z]{1,8}([.\- /][0-9A-Za-z]{1,6}){0,3}\Z"), wrong_for_string,
                        st.sampled_from(["12;34", "9" * 40, "ñ123", "1'; DROP TABLE customers;--"])),
    "email": Spec(st.from_regex(r"\A[a-zA-Z0-9]{1,12}(\.[a-z0-9]{1,8})?@[a-z]{2,10}\.(com|org|net|co)\Z"),
                  wrong_for_string, st.sampled_from(["no-at-sign", "a@b", "a b@c.com", "x" * 250 + "@b.co"])),
    "phone_number": Spec(st.sampled_from(PHONES), wrong_for_string,
                         st.sampled_from(["12", "+57 abc", "+999999999999999999", "+" + "5" * 40])),
    "name": Spec(free_text(100), wrong_for_string, st.sampled_from(["D" * 101, "Die\x07go", "a\x00b"])),
    "transaction_id": Spec(free_text(128, 1).filter(str.strip), wrong_for_string,
                           st.sampled_from(["T" * 129, "T\x00", "T\n1"])),
    "currency": Spec(st.text(string.ascii_letters, min_size=3, max_size=3), wrong_for_string,
                     st.sampled_from(["CO", "C0P", "€UR", "COPS"])),
    "amount": Spec(amounts(), wrong_for_number,
                   st.sampled_from([-1, Decimal("-0.01"), 10 ** 18, Decimal("0.0000000000001")]), is_string=False),
    "quantity": Spec(st.integers(1, 1_000_000), wrong_for_number,
                     st.sampled_from([0, -1, 1_000_001, 2 ** 63, Decimal("1.5"), Decimal("1.0")]), is_string=False),
    "sku": Spec(free_text(128), wrong_for_string, st.sampled_from(["S" * 129, "S\x1b[2J"])),
    "product_name": Spec(free_text(256), wrong_for_string, st.sampled_from(["N" * 257, "N\x7f"])),
    "code": Spec(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,40}\Z"), wrong_for_string,
                 st.sampled_from(["-abc", "a b", "C" * 129, "../etc/passwd", "X'; DROP TABLE identifiers;--"])),
}
# What the rules check whatever the event type (a sale, a refund, a void): all they can check when the
# event type is missing or unknown.
EVERY_EVENTS_FIELDS = {"", "event_type", "event_timestamp", "transaction_data", "transaction_data.transaction_id"}
KNOWN = {"event_type", "event_timestamp", "customer_data", "transaction_data", "national_id", "email",
         "phone_number", "first_name", "last_name", "whatsapp_number", "transaction_id", "currency",
         "total_amount", "line_items", "product_sku", "product_name", "quantity", "unit_price", "autentikapp_code"}
unknown_values = st.recursive(
    st.none() | st.booleans() | st.integers() | free_text(20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(free_text(8), children, max_size=3),
    max_leaves=8,
)


# -- building one mutated sale ----------------------------------------------------------------------

# How often each action is drawn, per example "mode" (the first action is where Hypothesis starts and
# shrinks to). "clean" only drops optional members (accepted unless no contact is left); "few" breaks a
# field now and then (a lone surrogate among them); "many" breaks most.
ACTIONS = {
    "clean": ["valid"] * 6 + ["drop", "null"],
    "few": ["valid"] * 40 + ["wrong", "breaking", "drop", "null", "surrogate"],
    "many": ["valid", "wrong", "breaking", "drop", "null"],
}


@dataclass
class Mutated:
    """A body and the answer its construction implies."""

    mode: str = "clean"
    document: Any = None
    broken: set[str] = field(default_factory=set)  # fields the 422 must name
    surrogate: bool = False  # a lone surrogate somewhere: 400

    def put(self, draw, obj: dict, name: str, path: str, spec: Spec, *, required: bool = False) -> str:
        """Set one member by a random action; return 'present', 'absent' or 'wrong' (wrong type)."""
        action = draw(st.sampled_from(ACTIONS[self.mode]))
        if required and self.mode == "clean" and action in ("drop", "null"):
            action = "valid"
        if action == "wrong":
            obj[name] = draw(spec.wrong)
            self.broken.add(path)
            return "wrong"
        if action == "breaking":
            obj[name] = draw(spec.breaking)
            self.broken.add(path)
            return "present"
        if action in ("drop", "null"):
            if action == "null":
                obj[name] = None
            if required:
                self.broken.add(path)
            return "absent"
        if action == "surrogate" and spec.is_string:
            obj[name] = draw(spec.valid) + SURROGATE
            self.surrogate = True
            return "present"
        obj[name] = draw(spec.valid)
        return "present" if not spec.is_string or obj[name].strip() else "absent"

    def container(self, draw, obj: dict, name: str, path: str, wrong: tuple = ([], "x", 1, True)) -> bool:
        """Decide whether a required container member is kept (True), or dropped or replaced by one of
        `wrong` (its wrong JSON types): broken."""
        action = "valid" if self.mode == "clean" else draw(st.sampled_from(["valid"] * 15 + ["drop", "wrong"]))
        if action == "drop":
            self.broken.add(path)
            return False
        if action == "wrong":
            obj[name] = draw(st.sampled_from(wrong))
            self.broken.add(path)
            return False
        return True

    def unknown(self, draw, obj: dict) -> None:
        """Members the guide does not know: accepted and ignored."""
        for key in draw(st.lists(st.text(string.ascii_letters + "_", min_size=1, max_size=12), max_size=2)):
            if key not in obj and key not in KNOWN:
                obj[key] = draw(unknown_values)


@st.composite
def mutated_sales(draw) -> Mutated:
    """A mutation of the guide's payload, and what it must be answered."""
    m = Mutated(mode=draw(st.sampled_from(list(ACTIONS))))
    if m.mode != "clean" and draw(st.sampled_from([False] * 29 + [True])):
        m.document = draw(st.sampled_from([[], "sale", 42, True, None]))
        m.broken.add("")
        return m
    doc: dict[str, Any] = {}
    m.put(draw, doc, "event_type", "event_type", SPECS["event_type"], required=True)
    m.put(draw, doc, "event_timestamp", "event_timestamp", SPECS["event_timestamp"], required=True)

    if m.container(draw, doc, "customer_data", "customer_data"):
        customer: dict[str, Any] = {}
        contacts = [
            m.put(draw, customer, "national_id", "customer_data.national_id", SPECS["national_id"]),
            m.put(draw, customer, "email", "customer_data.email", SPECS["email"]),
            m.put(draw, customer, "phone_number", "customer_data.phone_number", SPECS["phone_number"]),
        ]
        if "present" not in contacts:
            m.broken.add("customer_data")
        for name in ("first_name", "last_name"):
            m.put(draw, customer, name, f"customer_data.{name}", SPECS["name"])
        m.put(draw, customer, "whatsapp_number", "customer_data.whatsapp_number", SPECS["phone_number"])
        m.unknown(draw, customer)
        doc["customer_data"] = dict(draw(st.permutations(list(customer.items()))))  # any member order

    if m.container(draw, doc, "transaction_data", "transaction_data"):
        transaction: dict[str, Any] = {}
        m.put(draw, transaction, "transaction_id", "transaction_data.transaction_id", SPECS["transaction_id"],
              required=True)
        m.put(draw, transaction, "currency", "transaction_data.currency", SPECS["currency"])
        m.put(draw, transaction, "total_amount", "transaction_data.total_amount", SPECS["amount"])
        if m.container(draw, transaction, "line_items", "transaction_data.line_items", ({}, "x", 1, True)):
            items = []
            for index in range(draw(st.integers(0, 6))):
                path = f"transaction_data.line_items[{index}]"
                if m.mode != "clean" and draw(st.sampled_from([False] * 29 + [True])):
                    items.append(draw(st.sampled_from(["item", 1, None, []])))
                    m.broken.add(path)
                    continue
                item: dict[str, Any] = {}
                m.put(draw, item, "product_sku", f"{path}.product_sku", SPECS["sku"])
                m.put(draw, item, "product_name", f"{path}.product_name", SPECS["product_name"])
                m.put(draw, item, "quantity", f"{path}.quantity", SPECS["quantity"], required=True)
                m.put(draw, item, "unit_price", f"{path}.unit_price", SPECS["amount"])
                m.put(draw, item, "autentikapp_code", f"{path}.autentikapp_code", SPECS["code"])
                m.unknown(draw, item)
                items.append(item)
            transaction["line_items"] = items
        m.unknown(draw, transaction)
        doc["transaction_data"] = transaction
    m.unknown(draw, doc)
    m.document = doc
    return m


def encode(value: Any, ascii_only: bool) -> str:
    """JSON text with numbers exactly as the Decimals say (json.dumps has no Decimal)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=ascii_only)}: {encode(v, ascii_only)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(encode(v, ascii_only) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=ascii_only)


@pytest.fixture(scope="module")
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture(scope="module")
def client(publisher):
    return make_app(publisher).test_client()


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(mutated=mutated_sales(), ascii_only=st.booleans())
def test_signed_mutations_of_the_guide_payload_get_the_answer_their_mutations_imply(client, publisher, mutated,
                                                                                     ascii_only):
    body = encode(mutated.document, ascii_only).encode("utf-8", "surrogatepass")
    published_before = len(publisher.calls)

    response = client.post(URL, data=body, headers={"Content-Type": "application/json",
                                                    "X-Autentikapp-Signature": sign(SECRET, body)})

    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    if mutated.surrogate:
        expected = 400
    elif mutated.broken:
        expected = 422
    else:
        expected = 202
    note_event(f"answered {expected}")  # the mix shows with --hypothesis-show-statistics
    assert response.status_code == expected, (sorted(mutated.broken), text)
    if expected == 202:
        answer = response.get_json()
        assert EVENT_ID.match(answer["event_id"]) and answer["status"] == "accepted"
        [(subject, data, _)] = publisher.calls[published_before:]
        event = events_pb2.WebhookEvent.FromString(data)
        assert subject == "webhooks.inbound.acme"
        assert event.raw_body == body, "the exact bytes received are kept"
        assert event.event_id == answer["event_id"]
        assert event.sale.transaction_id == mutated.document["transaction_data"]["transaction_id"].strip()
        return
    assert len(publisher.calls) == published_before, "a refused body is never published"
    assert response.mimetype == "application/problem+json"
    problem = response.get_json(force=True)
    assert problem["status"] == expected
    assert problem["code"] == ("malformed-json" if expected == 400 else "invalid-payload")
    assert problem["type"] == "https://docs.autentik.app/problems/" + problem["code"]
    assert problem["title"] and isinstance(problem["detail"], str)
    if expected == 422:
        named = {error["field"] for error in problem["errors"]}
        must = mutated.broken
        if "event_type" in must:  # no known event type: only what every event type has is checked
            must = {path for path in must if path in EVERY_EVENTS_FIELDS}
        assert must <= named, f"{mutated.document!r}: not named {sorted(must - named)}"
