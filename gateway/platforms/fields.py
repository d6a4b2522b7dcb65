"""The field readers both platform translations share: lists of objects, named entries, ids, amounts and
phone numbers, read the same way for Shopify and WooCommerce. What makes a body untranslatable is
collected in Problems and raised at once as PayloadInvalid, with platform paths."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from common import normalize
from common.errors import InvalidArgument
from gateway.payload import FieldError, PayloadInvalid

LINE_ITEMS = "transaction_data.line_items"

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class Problems:
    """What makes a platform body untranslatable, by platform path, raised together as PayloadInvalid."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def raise_any(self) -> None:
        if self.errors:
            raise PayloadInvalid(self.errors)


def object_body(body: Any) -> dict:
    """The body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise PayloadInvalid([FieldError("", "the body must be a JSON object")])
    return body


def identifier(problems: Problems, parent: dict, name: str) -> str:
    """A required platform id (an integer or a non-blank string), as text."""
    value = parent.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        problems.add(name, f"{name} is required: an integer or a non-empty string")
        return ""
    return str(value).strip()


def objects(problems: Problems, parent: dict, name: str, path: str) -> list[tuple[int, dict]]:
    """(index, entry) of a list of objects; missing or null is empty, anything else is an error."""
    value = parent.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"{path} must be a list")
        return []
    entries = []
    for index, entry in enumerate(value):
        if isinstance(entry, dict):
            entries.append((index, entry))
        else:
            problems.add(f"{path}[{index}]", f"{path}[{index}] must be an object")
    return entries


def named(entries: list[tuple[int, dict]], key_field: str, key: str, value_field: str) -> Any:
    """The value of the first entry whose key_field is `key` (None when none is)."""
    for _, entry in entries:
        if entry.get(key_field) == key:
            return entry.get(value_field)
    return None


def carries(value: Any) -> bool:
    """Present: not null and not a blank string."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def trimmed(value: Any) -> Any:
    """Strings trimmed; anything else as found, for the payload rules to judge."""
    return value.strip() if isinstance(value, str) else value


def amount(value: Any) -> Any:
    """An amount as gateway.payload takes it (int or Decimal, every digit kept): platforms send decimal
    strings ("199.00"), which become Decimal("199.00"); anything else as found."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    if isinstance(value, float):  # only from a decoder without parse_float=Decimal
        return Decimal(repr(value))
    return value


def phone(value: Any, country: Any) -> Any:
    """A national number read in the order's own address country, so the tenant's default country is not
    needed; when that fails (or there is no country) the value as found, for the payload rules to report."""
    text = trimmed(value)
    if not isinstance(text, str) or not text or text.startswith("+") or not isinstance(country, str):
        return text
    try:
        return normalize.phone(text, "phone_number", country.strip().upper())
    except InvalidArgument:
        return text


def first(*candidates: tuple[str, Any]) -> tuple[str, Any] | None:
    """The first (path, value) whose value is present."""
    return next(((path, value) for path, value in candidates if carries(value)), None)


SHOWN_MAX = 64


def shown(value: Any) -> str:
    """A value the sender chose, quoted for a reason or a log line: at most SHOWN_MAX characters (a topic
    or a status is short; a long one is an attack on the logs, not information)."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "…")


def line_items(problems: Problems, order: dict, paths: dict[str, str], *, code_key: str, attributes: str,
               key_field: str, name_fields: tuple[str, ...] = ("name",)) -> tuple[list[dict], int]:
    """Every line item of `order` as the guide's (those without a code are ordinary products), each field's
    platform path added to `paths`, and how many carry a code. A line item's code is the value of the
    entry of its `attributes` list (Shopify's properties, WooCommerce's meta_data) whose `key_field` is
    `code_key`; its name is the first of `name_fields` it has."""
    lines, coded = [], 0
    for index, item in objects(problems, order, "line_items", "line_items"):
        base, guide = f"line_items[{index}]", f"{LINE_ITEMS}[{len(lines)}]"
        name_field = next((name for name in name_fields if item.get(name) is not None), name_fields[-1])
        line = {"product_sku": trimmed(item.get("sku")), "product_name": trimmed(item.get(name_field)),
                "quantity": item.get("quantity"), "unit_price": amount(item.get("price"))}
        paths.update({guide: base, f"{guide}.product_sku": f"{base}.sku",
                      f"{guide}.product_name": f"{base}.{name_field}", f"{guide}.unit_price": f"{base}.price"})
        code = named(objects(problems, item, attributes, f"{base}.{attributes}"), key_field, code_key, "value")
        if carries(code):
            line["autentikapp_code"] = trimmed(code)
            paths[f"{guide}.autentikapp_code"] = f"{base}.{attributes}[{code_key}]"
            coded += 1
        lines.append(line)
    return lines, coded
