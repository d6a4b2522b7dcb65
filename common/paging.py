"""Opaque page tokens for keyset pagination.

A token carries the last row's sort key and the scope it was issued for (tenant, filters), so a token
cannot be replayed against another tenant or filter: that is INVALID_ARGUMENT, not a silent mix-up.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from common.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    """0 means the default; otherwise 1..MAX_PAGE_SIZE."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}", "page_size")
    return requested


def encode(scope: dict[str, Any], after: list[Any]) -> str:
    """A token that resumes after the row whose sort key is `after`, within `scope`."""
    raw = json.dumps({"s": scope, "a": after}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, scope: dict[str, Any]) -> list[Any] | None:
    """The sort key to resume after, or None for the first page; refuses a token from another scope."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, issued_for = data["a"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgument("page_token is not a token this service issued", "page_token") from None
    if issued_for != json.loads(json.dumps(scope, default=str)) or not isinstance(after, list):
        raise InvalidArgument("page_token was issued for another tenant or filter", "page_token")
    return after


def decode_after_id(token: str, scope: dict[str, Any]) -> int | None:
    """decode() for pages keyed by one integer id (history entries): the id to resume after, or None for
    the first page; a token of another shape is refused."""
    after = decode(token, scope)
    if after is None:
        return None
    if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
        raise InvalidArgument("page_token is not a token this service issued", "page_token")
    return after[0]
