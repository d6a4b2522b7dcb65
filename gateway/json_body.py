"""Strict JSON decoding of a request body: anything ambiguous or hostile is refused (HTTP 400).

Refused: invalid UTF-8, duplicate keys (which value would win differs between parsers), NaN and
Infinity (not JSON), lone surrogate escapes (not encodable), nesting deeper than MAX_DEPTH.
Numbers keep their exact value: integers as int, others as Decimal (never float), so amounts are
carried as sent.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32
# A \u escape of a surrogate code point (D800-DFFF): the only way a lone surrogate gets into a decoded
# document, since the UTF-8 decoding refuses encoded surrogates.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class MalformedJson(ValueError):
    """The body is not acceptable JSON; the message says why (never echoes the body)."""


class _DuplicateKey(ValueError):
    """Raised from the object hook; carries the offending key."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: build the dict, refusing a key that appears twice (the first one repeated)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _refuse_constant(name: str) -> Any:
    """parse_constant: NaN, Infinity and -Infinity are not JSON."""
    raise MalformedJson(f"{name} is not a valid JSON number")


def _may_be_too_deep_or_hold_surrogates(text: str) -> bool:
    """A quick, conservative look at the text: False only when no nesting can exceed MAX_DEPTH (at most
    that many '{' and '[' in all, strings included) and no \\u escape names a surrogate; then the walk
    of _check_structure can be skipped (it is the slow part of decoding an ordinary body)."""
    return text.count("{") + text.count("[") > MAX_DEPTH or _SURROGATE_ESCAPE.search(text) is not None


def _check_structure(document: Any) -> None:
    """Walk the document once: bounded depth, and every string encodable as UTF-8 (no lone surrogates)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise MalformedJson(f"the JSON is nested more than {MAX_DEPTH} levels deep")
            for key, item in value.items():
                _check_string(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise MalformedJson(f"the JSON is nested more than {MAX_DEPTH} levels deep")
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_string(value)


def _check_string(value: str) -> None:
    """Refuse a string with a lone surrogate (a \\ud800-style escape without its pair)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJson("the JSON contains an invalid \\u escape (a lone surrogate)") from None


def loads(raw: bytes) -> Any:
    """Decode `raw` strictly; raise MalformedJson with a short reason."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"the body is not valid UTF-8 (byte offset {exc.start})") from None
    if text.startswith("\ufeff"):  # a byte-order mark is tolerated (RFC 8259 allows ignoring it)
        text = text[1:]
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_float=Decimal,
            parse_int=int,
            parse_constant=_refuse_constant,
        )
    except MalformedJson:
        raise
    except _DuplicateKey as exc:
        raise MalformedJson(f"duplicate key {str(exc)[:64]!r} in a JSON object") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise MalformedJson(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise MalformedJson(f"invalid JSON: {str(exc)[:120]}") from None
    if _may_be_too_deep_or_hold_surrogates(text):
        _check_structure(document)
    return document
