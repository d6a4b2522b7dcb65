"""Opaque page tokens for keyset pagination.

A token carries the last row's sort key and the scope it was issued for (tenant, filters), so a token
cannot be replayed against another tenant or filter: that is INVALID_ARGUMENT, not a silent mix-up.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from common.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_KEY_TEXT = 1000
NOT_OURS = "page_token is not a token this service issued"


def page_size(requested: int, *, default: int | None = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """0 means `default` (with None, 0 is refused too); otherwise 1..`maximum`. InvalidArgument names the
    field and the bounds."""
    if requested == 0 and default is not None:
        return default
    if isinstance(requested, bool) or not isinstance(requested, int) or not 1 <= requested <= maximum:
        zero = f" (0 for {default})" if default is not None else ""
        raise InvalidArgument(f"page_size must be between 1 and {maximum}{zero}", "page_size")
    return requested


def encode(scope: dict[str, Any], after: list[Any]) -> str:
    """A token that resumes after the row whose sort key is `after`, within `scope`."""
    raw = json.dumps({"s": scope, "a": after}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, scope: dict[str, Any], shape: tuple[Callable[[Any], Any], ...]) -> list[Any] | None:
    """The sort key to resume after, or None for the first page. Refused (INVALID_ARGUMENT) when the token
    is not one of ours, was issued for another scope, or its key does not have `shape` (one reader per
    element, e.g. (integer,) or (timestamp, uuid_text)): tokens are not signed, so a forged one must be
    told apart here, before its values reach SQL (where they would be an INTERNAL error)."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, issued_for = data["a"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgument(NOT_OURS, "page_token") from None
    if issued_for != json.loads(json.dumps(scope, default=str)):
        raise InvalidArgument("page_token was issued for another tenant or filter", "page_token")
    if not isinstance(after, list) or len(after) != len(shape):
        raise InvalidArgument(NOT_OURS, "page_token")
    try:
        return [read(value) for read, value in zip(shape, after)]
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgument(NOT_OURS, "page_token") from None


def decode_after_id(token: str, scope: dict[str, Any]) -> int | None:
    """decode() for pages keyed by one integer id (history entries): the id to resume after, or None."""
    after = decode(token, scope, (integer,))
    return None if after is None else after[0]


# Readers of a token's sort key: each returns the value as the query takes it, or raises TypeError or
# ValueError for a value no page of ours ends with.

def integer(value: Any) -> int:
    """A positive 64-bit row id."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    if not 0 < value < 2**63:
        raise ValueError("out of range")
    return value


def text(value: Any) -> str:
    """A key string (a code): at most MAX_KEY_TEXT characters, no control characters (Postgres refuses NUL)."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    if len(value) > MAX_KEY_TEXT or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("not a key")
    return value


def timestamp(value: Any) -> str:
    """An ISO 8601 time with its offset, as issued."""
    if not isinstance(value, str) or len(value) > 64 or datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("not a time with an offset")
    return value


def uuid_text(value: Any) -> str:
    """A UUID, in its canonical text."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return str(uuid.UUID(value))
