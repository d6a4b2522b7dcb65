"""Stores that cannot send the guide's payload or headers (Shopify, WooCommerce): their webhook bodies are
translated onto the guide's document, so every payload rule, the content digest and the event id are the
same whatever sent the sale. Translation is pure (no I/O, no clock) and judges no value: values go through
as found, gateway.payload.parse_event checks them, and Translated.platform_path names a failing field by
its path in the platform's body. Only what makes translation impossible is refused here (PayloadInvalid,
with platform paths)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from common import normalize
from common.errors import InvalidArgument
from gateway.payload import FieldError, PayloadInvalid


@dataclass(frozen=True)
class PlatformSettings:
    """Where a tenant's store keeps what the guide's payload names (set per tenant and platform)."""

    code_key: str = "autentikapp_code"  # Shopify: line-item property name; WooCommerce: line-item meta_data key
    national_id_key: str = "national_id"  # Shopify: order note_attributes name; WooCommerce: order meta_data key


@dataclass(frozen=True)
class Translated:
    """A guide-shaped document (the dict gateway.payload.parse_event takes) and where its fields came from."""

    document: dict
    paths: dict[str, str]  # guide field path (as gateway.payload names it) -> path in the platform's body

    def platform_path(self, guide_field: str) -> str:
        """The platform path of a guide field: exact match, else the longest mapped prefix (at a '.' or '['
        boundary) followed by the rest of the path, else guide_field unchanged."""
        if guide_field in self.paths:
            return self.paths[guide_field]
        best = ""
        for prefix in self.paths:
            if (len(prefix) > len(best) and guide_field.startswith(prefix)
                    and guide_field[len(prefix):len(prefix) + 1] in (".", "[")):
                best = prefix
        return self.paths[best] + guide_field[len(best):] if best else guide_field


@dataclass(frozen=True)
class Ignored:
    """Nothing to publish: the gateway answers 200 with this reason (platforms disable a webhook that keeps failing)."""

    reason: str


# Shared by the platform modules.

_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class _Problems:
    """What makes a platform body untranslatable, by platform path, raised together as PayloadInvalid."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def raise_any(self) -> None:
        if self.errors:
            raise PayloadInvalid(self.errors)


def _object_body(body: Any) -> dict:
    """The body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise PayloadInvalid([FieldError("", "the body must be a JSON object")])
    return body


def _identifier(problems: _Problems, parent: dict, name: str) -> str:
    """A required platform id (an integer or a non-blank string), as text."""
    value = parent.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        problems.add(name, f"{name} is required: an integer or a non-empty string")
        return ""
    return str(value).strip()


def _objects(problems: _Problems, parent: dict, name: str, path: str) -> list[tuple[int, dict]]:
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


def _named(entries: list[tuple[int, dict]], key_field: str, key: str, value_field: str) -> Any:
    """The value of the first entry whose key_field is `key` (None when none is)."""
    for _, entry in entries:
        if entry.get(key_field) == key:
            return entry.get(value_field)
    return None


def _carries(value: Any) -> bool:
    """Present: not null and not a blank string."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _text(value: Any) -> Any:
    """Strings trimmed; anything else as found, for the payload rules to judge."""
    return value.strip() if isinstance(value, str) else value


def _amount(value: Any) -> Any:
    """An amount as gateway.payload takes it (int or Decimal, every digit kept): platforms send decimal
    strings ("199.00"), which become Decimal("199.00"); anything else as found."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    if isinstance(value, float):  # only from a decoder without parse_float=Decimal
        return Decimal(repr(value))
    return value


def _phone(value: Any, country: Any) -> Any:
    """A national number read in the order's own address country, so the tenant's default country is not
    needed; when that fails (or there is no country) the value as found, for the payload rules to report."""
    text = _text(value)
    if not isinstance(text, str) or not text or text.startswith("+") or not isinstance(country, str):
        return text
    try:
        return normalize.phone(text, "phone_number", country.strip().upper())
    except InvalidArgument:
        return text


def _first(*candidates: tuple[str, Any]) -> tuple[str, Any] | None:
    """The first (path, value) whose value is present."""
    return next(((path, value) for path, value in candidates if _carries(value)), None)
