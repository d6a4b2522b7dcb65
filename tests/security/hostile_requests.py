"""The hostile corpus: requests a broken or malicious sender could make, each with its documented answer.

Every entry names what it tries, the status the gateway must answer and, when the Flask app answers,
the problem `code` of its application/problem+json body. A handful are refused by gunicorn's HTTP
parser before the app sees them (`code=None`, the SERVER layer): gunicorn answers those with its own
short text/html page and closes the connection; no request reaches the app, so none is logged by it.

Signing: SIGNED entries carry the correct HMAC of their exact body under the tenant's secret, so the
check they aim at is not masked by a 401; UNSIGNED ones carry no signature; other entries give a
function (secret, body) -> header value for a wrong one.

Most entries must be refused and change nothing. The ACCEPTED ones (202) are "data, not attacks":
quotes, SQL and shell metacharacters in free-text fields, a BOM, a body exactly at the size cap. Each
of those sells its own registered code to its own buyer, and `stored` says what must be stored,
byte for byte.

The order of checks is the contract's: size 413 ▸ tenant + signature 401 ▸ content type 415 ▸
strict JSON 400 ▸ payload rules 422 ▸ 202. A tenant id in the path that is malformed (a NUL, a dot,
`..`, too long, non-ASCII) is answered 401 exactly like an unknown tenant; a path that no longer
matches the route (an encoded `/`, a trailing slash, nothing after `inbound/`) is 404.

The other signature schemes (SIGNATURE_SCHEMES, at the end) are byte-for-byte entries signed from
WireContext.secrets: Standard Webhooks on the same endpoint (`webhook-id`, `webhook-timestamp`,
`webhook-signature` over `id.timestamp.body`, keyed by the base64 after `whsec_`; any of the three
headers makes it a Standard Webhooks request, checked by that scheme alone; the headers' own form and
the clock are judged before any tenant is looked up), a tenant that requires timestamped signatures
(STRICT), and the Shopify and WooCommerce endpoints (a base64 HMAC of the body under the tenant's
platform secret; size 413 ▸ WooCommerce's unsigned ping 200 ▸ signature 401 ▸ content type 415 ▸
JSON 400 ▸ topic header 400 ▸ 200 "ignored" for a topic that is not read ▸ translation 422). `detail`
is text the problem's detail must contain; `answer` the `status` of a 200's JSON body.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rawhttp import build_request

from cli.examples import TRANSACTION_CREATED
from gateway.settings import DEFAULT_MAX_BODY_BYTES

TENANT = "acme"
PATH = "/v1/webhooks/inbound/" + TENANT
BYSTANDER = "bystander"  # another tenant: its secret must never act for TENANT
STRICT = "strict"  # a tenant that requires timestamped (Standard Webhooks) signatures
SHOPIFY, WOOCOMMERCE = "shopify", "woocommerce"  # TENANT's platform secrets in WireContext.secrets
MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES  # the gateway's default GATEWAY_MAX_BODY_BYTES
TEN_MB = 10 * 1024 * 1024

SIGNED = "signed"
UNSIGNED = "unsigned"
Signature = str | Callable[[str, bytes], str]

GUIDE: dict[str, Any] = json.loads(TRANSACTION_CREATED.read_bytes())
_DROP = object()
_MARK = "@@RAW@@"


@dataclass(frozen=True)
class Stored:
    """What an accepted entry must have stored: its identifier's fields and its buyer's fields."""

    code: str
    identifier: dict[str, str]
    customer: dict[str, str]


@dataclass(frozen=True)
class WireContext:
    """What a byte-for-byte request needs: the tenant's path and a signer under its secret."""

    path: str
    sign: Callable[[bytes], str]
    # whsec_ secrets by tenant (TENANT, BYSTANDER, STRICT) and TENANT's platform secrets (SHOPIFY, WOOCOMMERCE)
    secrets: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], int] = lambda: int(time.time())


@dataclass(frozen=True)
class Hostile:
    """One hostile request and its documented answer."""

    name: str
    category: str
    status: int
    code: str | None  # the problem code; None: refused by gunicorn's HTTP parser (text/html)
    why: str
    body: bytes | Callable[[], bytes] = b""
    signature: Signature = SIGNED
    content_type: str | None = "application/json"
    method: str = "POST"
    path: str = PATH
    headers: tuple[tuple[str, str], ...] = ()
    wire: Callable[[WireContext], bytes] | None = None  # the whole request, when a client library can't send it
    half_close: bool = False  # stop writing after the request (a client gone mid-body)
    fields: tuple[str, ...] = ()  # 422: fields that must be named in `errors`
    stored: Stored | None = None  # 202: what must be stored verbatim
    detail: str | None = None  # text the problem's detail must contain
    answer: str | None = None  # 200: the `status` of the JSON body ("ignored", "ok")

    def resolved_body(self) -> bytes:
        """The body bytes (large ones are built on demand)."""
        return self.body() if callable(self.body) else self.body


# -- building bodies --------------------------------------------------------------------------------


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _changed(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The guide's example with its own transaction id and `changes` applied by dotted path
    (`transaction_data.line_items.0.quantity`); _DROP removes a member."""
    doc = copy.deepcopy(GUIDE)
    doc["transaction_data"]["transaction_id"] = f"H-{name}"
    for path, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = doc
        for part in parents:
            target = target[part]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return doc


def guide(name: str, changes: dict[str, Any] | None = None) -> bytes:
    """The guide's example as JSON bytes, with changes."""
    return _encode(_changed(name, changes or {}))


def guide_raw(name: str, path: str, raw: bytes) -> bytes:
    """The guide's example with the value at `path` replaced by raw bytes (a literal JSON can't hold
    as a Python value: 10**400 digits, -0, NaN, broken UTF-8...)."""
    return _encode(_changed(name, {path: _MARK})).replace(f'"{_MARK}"'.encode(), raw)


def guide_in_string(name: str, path: str, raw: bytes) -> bytes:
    """The guide's example with raw bytes inside the string at `path`."""
    return _encode(_changed(name, {path: f"x{_MARK}x"})).replace(_MARK.encode(), raw)


def sale_for(name: str, *, customer: dict[str, Any] | None = None, item: dict[str, Any] | None = None,
             transaction_id: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid sale of this entry's own code to this entry's own buyer (accepted entries)."""
    return {
        "event_type": "transaction.created",
        "event_timestamp": "2025-09-13T14:30:00Z",
        "customer_data": customer or {"email": f"{name}@correo-tienda.co"},
        "transaction_data": {
            "transaction_id": transaction_id or f"H-{name}",
            "currency": "COP",
            "total_amount": 10,
            "line_items": [{"product_sku": "SKU-1", "product_name": "Plain product", "quantity": 1,
                            "unit_price": 10, **(item or {}), "autentikapp_code": code_for(name)}],
        },
        **(extra or {}),
    }


def code_for(name: str) -> str:
    """The registered code an accepted entry sells."""
    return f"DATA-{name}"


def _nested(depth: int, kind: str = "list") -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _ten_mb_body() -> bytes:
    return _encode(_changed("ten-mb", {"transaction_data.line_items.0.product_name": "x" * TEN_MB}))


def _padded_to(size: int) -> Callable[[], bytes]:
    """A valid sale padded with an unknown field to exactly `size` bytes."""
    def build() -> bytes:
        doc = sale_for("body-exactly-at-cap", extra={"padding": ""})
        pad = size - len(_encode(doc))
        doc["padding"] = "p" * pad
        body = _encode(doc)
        assert len(body) == size
        return body
    return build


def _chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


# -- signatures that are wrong ----------------------------------------------------------------------


def _hmac(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _wrong_secret(secret: str, body: bytes) -> str:
    return _hmac("whsec_" + "A" * 43, body)


def _other_body(secret: str, body: bytes) -> str:
    return _hmac(secret, body + b" ")


def _truncated(secret: str, body: bytes) -> str:
    return _hmac(secret, body)[:63]


def _non_hex(secret: str, body: bytes) -> str:
    return "g" * 64


def _prefixed(secret: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret, body)


def _base64(secret: str, body: bytes) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(_hmac(secret, body))).decode()


def _empty(secret: str, body: bytes) -> str:
    return ""


def _eight_kb(secret: str, body: bytes) -> str:
    return _hmac(secret, body) * 125  # 8,000 characters: under gunicorn's 8,190-byte field limit


def _ten_kb(secret: str, body: bytes) -> str:
    return "a" * 10 * 1024


# -- byte-for-byte requests ----------------------------------------------------------------------------

_SMALL = guide("wire")  # the body of most wire-level entries (a valid sale: only the framing is hostile)


def _signed_headers(ctx: WireContext, body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("X-Autentikapp-Signature", ctx.sign(body))]


def _with_signature_value(value: Callable[[str], str]) -> Callable[[WireContext], bytes]:
    """The valid signature header made hostile by `value(signature)`, written as is."""
    def build(ctx: WireContext) -> bytes:
        return build_request("POST", ctx.path, [("Content-Type", "application/json"),
                                                ("X-Autentikapp-Signature", value(ctx.sign(_SMALL)))], _SMALL)
    return build


def _with_headers(extra: Callable[[WireContext], list[tuple[str, str]]], body: bytes = _SMALL,
                  *, content_length: bool = True) -> Callable[[WireContext], bytes]:
    """A signed request with `extra` headers appended, written as is."""
    def build(ctx: WireContext) -> bytes:
        return build_request("POST", ctx.path, _signed_headers(ctx, body) + extra(ctx), body,
                             content_length=content_length)
    return build


def _chunked_wire(framing: bytes, signed_body: bytes = _SMALL) -> Callable[[WireContext], bytes]:
    """Transfer-Encoding: chunked with the given (broken) framing; signed over `signed_body`."""
    def build(ctx: WireContext) -> bytes:
        headers = _signed_headers(ctx, signed_body) + [("Transfer-Encoding", "chunked")]
        return build_request("POST", ctx.path, headers, framing, content_length=False)
    return build


def _request_line(line: str) -> Callable[[WireContext], bytes]:
    """A signed request whose request line is `line` ({path} is the tenant's path)."""
    def build(ctx: WireContext) -> bytes:
        request = build_request("POST", ctx.path, _signed_headers(ctx, _SMALL), _SMALL)
        first_line_end = request.index(b"\r\n")
        return line.format(path=ctx.path).encode("utf-8") + request[first_line_end:]
    return build


def _ten_mb_chunked(ctx: WireContext) -> bytes:
    body = _ten_mb_body()
    headers = _signed_headers(ctx, body) + [("Transfer-Encoding", "chunked")]
    return build_request("POST", ctx.path, headers, _chunked(body), content_length=False)


def _no_body_at_all(ctx: WireContext) -> bytes:
    """POST with neither Content-Length nor Transfer-Encoding: a request without a body."""
    return build_request("POST", ctx.path, _signed_headers(ctx, b""), b"", content_length=False)


def _expect_continue(ctx: WireContext) -> bytes:
    body = b'{"broken": '
    return build_request("POST", ctx.path, _signed_headers(ctx, body) + [("Expect", "100-continue")], body)


# -- the corpus ------------------------------------------------------------------------------------------

MALFORMED = "malformed-json"
INVALID = "invalid-payload"
SIGNATURE = "invalid-signature"
TOO_LARGE = "payload-too-large"
MEDIA_TYPE = "unsupported-media-type"
NOT_FOUND = "not-found"
NOT_ALLOWED = "method-not-allowed"
BAD_REQUEST = "bad-request"
SERVER = None  # gunicorn's HTTP parser answers (text/html); the app never sees the request

CORPUS: list[Hostile] = [
    # -- broken JSON: 400 malformed-json (signed, so the signature check passes and JSON is the issue)
    Hostile("json-truncated", "json", 400, MALFORMED, "the body cut in half",
            body=guide("json-truncated")[:200]),
    Hostile("json-trailing-comma", "json", 400, MALFORMED, "a comma after the last member",
            body=guide("json-trailing-comma")[:-1] + b",}"),
    Hostile("json-single-quotes", "json", 400, MALFORMED, "single-quoted strings",
            body=guide("json-single-quotes").replace(b'"', b"'")),
    Hostile("json-unquoted-keys", "json", 400, MALFORMED, "bare keys",
            body=b"{event_type: 1}"),
    Hostile("json-comment", "json", 400, MALFORMED, "a /* comment */",
            body=b'{"event_type": "transaction.created" /* sneaky */}'),
    Hostile("json-two-documents", "json", 400, MALFORMED, "a second document after the first",
            body=guide("json-two-documents") + b"{}"),
    Hostile("json-nan", "json", 400, MALFORMED, "NaN is not JSON",
            body=guide_raw("json-nan", "transaction_data.total_amount", b"NaN")),
    Hostile("json-infinity", "json", 400, MALFORMED, "Infinity is not JSON",
            body=guide_raw("json-infinity", "transaction_data.line_items.0.unit_price", b"Infinity")),
    Hostile("json-negative-infinity", "json", 400, MALFORMED, "-Infinity is not JSON",
            body=guide_raw("json-negative-infinity", "transaction_data.total_amount", b"-Infinity")),
    Hostile("json-hex-number", "json", 400, MALFORMED, "0x1 is not a JSON number",
            body=guide_raw("json-hex-number", "transaction_data.line_items.0.quantity", b"0x1")),
    Hostile("json-leading-zero", "json", 400, MALFORMED, "01 is not a JSON number",
            body=guide_raw("json-leading-zero", "transaction_data.line_items.0.quantity", b"01")),
    Hostile("json-plus-sign", "json", 400, MALFORMED, "+1 is not a JSON number",
            body=guide_raw("json-plus-sign", "transaction_data.line_items.0.quantity", b"+1")),
    Hostile("json-raw-newline-in-string", "json", 400, MALFORMED, "an unescaped control character in a string",
            body=guide_in_string("json-raw-newline-in-string", "transaction_data.line_items.0.product_name", b"\n")),
    Hostile("json-bad-escape", "json", 400, MALFORMED, "\\x41 is not a JSON escape",
            body=guide_in_string("json-bad-escape", "customer_data.first_name", b"\\x41")),
    Hostile("json-only-whitespace", "json", 400, MALFORMED, "a body of blanks",
            body=b" \r\n\t "),
    Hostile("json-empty-body", "json", 400, MALFORMED, "Content-Length: 0, correctly signed",
            body=b""),
    Hostile("json-no-body-at-all", "json", 400, MALFORMED, "no Content-Length and no body",
            wire=_no_body_at_all),
    Hostile("json-duplicate-key", "json", 400, MALFORMED, "event_type twice: which one wins differs by parser",
            body=guide("json-duplicate-key")[:-1] + b', "event_type": "transaction.created"}'),
    Hostile("json-duplicate-key-nested", "json", 400, MALFORMED, "customer_data.email twice, with two values",
            body=guide("json-duplicate-key-nested").replace(
                b'"email": "cliente@email.com"', b'"email": "cliente@email.com", "email": "victim@email.com"')),
    Hostile("json-deep-array-10000", "json", 400, MALFORMED, "10,000 nested arrays",
            body=_nested(10_000)),
    Hostile("json-deep-object-10000", "json", 400, MALFORMED, "10,000 nested objects",
            body=_nested(10_000, "object")),
    Hostile("json-nesting-just-over-cap", "json", 400, MALFORMED, "an extra member nested 40 levels (cap 32)",
            body=guide_raw("json-nesting-just-over-cap", "extra", _nested(40))),
    Hostile("json-integer-5000-digits", "json", 400, MALFORMED, "an integer literal longer than Python converts",
            body=guide_raw("json-integer-5000-digits", "transaction_data.line_items.0.quantity", b"9" * 5000)),
    Hostile("json-lone-surrogate-escaped", "json", 400, MALFORMED, "\\ud800 without its pair, in a value",
            body=guide_in_string("json-lone-surrogate-escaped", "transaction_data.line_items.0.product_name",
                                 b"\\ud800")),
    Hostile("json-lone-surrogate-in-key", "json", 400, MALFORMED, "\\udc00 in a member name",
            body=guide("json-lone-surrogate-in-key")[:-1] + b', "k\\udc00": 1}'),
    Hostile("json-invalid-utf8", "json", 400, MALFORMED, "bytes FF FE inside a string",
            body=guide_in_string("json-invalid-utf8", "customer_data.first_name", b"\xff\xfe")),
    Hostile("json-overlong-utf8-slash", "json", 400, MALFORMED, "C0 AF: an overlong '/'",
            body=guide_in_string("json-overlong-utf8-slash", "transaction_data.line_items.0.product_sku", b"\xc0\xaf")),
    Hostile("json-overlong-utf8-dot", "json", 400, MALFORMED, "E0 80 AE: an overlong '.'",
            body=guide_in_string("json-overlong-utf8-dot", "transaction_data.transaction_id", b"\xe0\x80\xae")),
    Hostile("json-utf8-encoded-surrogate", "json", 400, MALFORMED, "ED A0 80: a surrogate encoded as UTF-8 (CESU)",
            body=guide_in_string("json-utf8-encoded-surrogate", "customer_data.last_name", b"\xed\xa0\x80")),
    Hostile("json-raw-nul-in-string", "json", 400, MALFORMED, "a raw NUL byte inside a string",
            body=guide_in_string("json-raw-nul-in-string", "customer_data.national_id", b"\x00")),
    Hostile("json-raw-nul-after-document", "json", 400, MALFORMED, "a NUL byte after the document",
            body=guide("json-raw-nul-after-document") + b"\x00"),
    Hostile("json-utf16-body", "json", 400, MALFORMED, "the body encoded as UTF-16",
            body=guide("json-utf16-body").decode().encode("utf-16")),
    Hostile("json-gzip-body", "json", 400, MALFORMED, "a gzip body with Content-Encoding: gzip (not decoded)",
            body=gzip.compress(guide("json-gzip-body"), mtime=0), headers=(("Content-Encoding", "gzip"),)),
    Hostile("json-after-expect-100-continue", "json", 400, MALFORMED, "Expect: 100-continue, then a broken body",
            wire=_expect_continue),

    # -- huge and odd numbers: parsed exactly (int / Decimal), then refused by the payload rules
    Hostile("number-quantity-1e400", "numbers", 422, INVALID, "1e400 overflows a float; it is not an integer",
            body=guide_raw("number-quantity-1e400", "transaction_data.line_items.0.quantity", b"1e400"),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-total-1e400", "numbers", 422, INVALID, "1e400 as an amount: more than 18 integer digits",
            body=guide_raw("number-total-1e400", "transaction_data.total_amount", b"1e400"),
            fields=("transaction_data.total_amount",)),
    Hostile("number-quantity-10-pow-400-literal", "numbers", 422, INVALID, "10**400 written out as an integer",
            body=guide_raw("number-quantity-10-pow-400-literal", "transaction_data.line_items.0.quantity",
                           str(10 ** 400).encode()),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-price-10-pow-400-literal", "numbers", 422, INVALID, "10**400 written out as a price",
            body=guide_raw("number-price-10-pow-400-literal", "transaction_data.line_items.0.unit_price",
                           str(10 ** 400).encode()),
            fields=("transaction_data.line_items[0].unit_price",)),
    Hostile("number-quantity-2-pow-63", "numbers", 422, INVALID, "one past the largest int64",
            body=guide_raw("number-quantity-2-pow-63", "transaction_data.line_items.0.quantity", str(2 ** 63).encode()),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-quantity-2-pow-64", "numbers", 422, INVALID, "one past the largest uint64",
            body=guide_raw("number-quantity-2-pow-64", "transaction_data.line_items.0.quantity", str(2 ** 64).encode()),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-quantity-minus-2-pow-63", "numbers", 422, INVALID, "the smallest int64",
            body=guide_raw("number-quantity-minus-2-pow-63", "transaction_data.line_items.0.quantity",
                           str(-2 ** 63).encode()),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-quantity-negative-zero", "numbers", 422, INVALID, "-0 is 0, below the minimum of 1",
            body=guide_raw("number-quantity-negative-zero", "transaction_data.line_items.0.quantity", b"-0"),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-quantity-one-point-zero", "numbers", 422, INVALID, "1.0 is not an integer",
            body=guide_raw("number-quantity-one-point-zero", "transaction_data.line_items.0.quantity", b"1.0"),
            fields=("transaction_data.line_items[0].quantity",)),
    Hostile("number-price-negative", "numbers", 422, INVALID, "a price below zero",
            body=guide_raw("number-price-negative", "transaction_data.line_items.0.unit_price", b"-0.01"),
            fields=("transaction_data.line_items[0].unit_price",)),
    Hostile("number-price-1e-400", "numbers", 422, INVALID, "400 decimals (cap 12)",
            body=guide_raw("number-price-1e-400", "transaction_data.line_items.0.unit_price", b"1e-400"),
            fields=("transaction_data.line_items[0].unit_price",)),

    # -- wrong JSON types, one for every field of the guide's payload, and for the body itself: 422
    Hostile("type-body-array", "types", 422, INVALID, "the body is an array", body=b"[]", fields=("",)),
    Hostile("type-body-string", "types", 422, INVALID, "the body is a string", body=b'"sale"', fields=("",)),
    Hostile("type-body-null", "types", 422, INVALID, "the body is null", body=b"null", fields=("",)),
    Hostile("type-body-number", "types", 422, INVALID, "the body is a number", body=b"42", fields=("",)),
    Hostile("type-body-true", "types", 422, INVALID, "the body is true", body=b"true", fields=("",)),
    *[
        Hostile(f"type-{path.replace('.0.', '.item.').replace('.', '-').replace('_', '-')}", "types", 422, INVALID,
                f"{path} as {json.dumps(value)}",
                body=guide(f"type-{index}", {path: value}),
                fields=(path.replace(".0", "[0]"),))
        for index, (path, value) in enumerate([
            ("event_type", 42),
            ("event_timestamp", 1694615400),
            ("customer_data", ["cliente@email.com"]),
            ("customer_data.national_id", 123456789),
            ("customer_data.email", ["cliente@email.com"]),
            ("customer_data.phone_number", 573001234567),
            ("customer_data.first_name", {"es": "Diego"}),
            ("customer_data.last_name", True),
            ("customer_data.whatsapp_number", 3.5),
            ("transaction_data", "FACT-00123"),
            ("transaction_data.currency", 170),
            ("transaction_data.total_amount", "950000.00"),
            ("transaction_data.line_items", {"0": {}}),
            ("transaction_data.line_items.0", "BOLSO-CUERO-01"),
            ("transaction_data.line_items.0.product_sku", 1),
            ("transaction_data.line_items.0.product_name", ["Bolso"]),
            ("transaction_data.line_items.0.quantity", "1"),
            ("transaction_data.line_items.0.unit_price", True),
            ("transaction_data.line_items.0.autentikapp_code", 12345),
        ])
    ],
    Hostile("type-transaction-id-number", "types", 422, INVALID, "transaction_id as 123",
            body=guide("type-transaction-id-number", {"transaction_data.transaction_id": 123}),
            fields=("transaction_data.transaction_id",)),

    # -- sizes: the body cap (413, checked on Content-Length before reading) and every string's cap (422)
    Hostile("size-10mb-string", "sizes", 413, TOO_LARGE, "a 10 MB product name, with Content-Length",
            body=_ten_mb_body),
    Hostile("size-10mb-chunked", "sizes", 413, TOO_LARGE, "the same 10 MB body chunked (no Content-Length)",
            wire=_ten_mb_chunked),
    Hostile("size-cap-plus-one", "sizes", 413, TOO_LARGE, "one byte over GATEWAY_MAX_BODY_BYTES",
            body=b" " * (MAX_BODY_BYTES + 1)),
    Hostile("size-content-length-absurd", "sizes", 400, SERVER, "Content-Length: 30 nines, 8 bytes sent: not a "
            "length gunicorn's C parser (gunicorn_h1c) reads, refused as a malformed header before the app",
            wire=_with_headers(lambda ctx: [("Content-Length", "9" * 30)], b'{"a": 1}')),
    Hostile("size-transaction-id-129", "sizes", 422, INVALID, "transaction_id over 128 characters",
            body=guide("size-transaction-id-129", {"transaction_data.transaction_id": "T" * 129}),
            fields=("transaction_data.transaction_id",)),
    Hostile("size-product-name-10k", "sizes", 422, INVALID, "a 10,000-character product name",
            body=guide("size-product-name-10k", {"transaction_data.line_items.0.product_name": "n" * 10_000}),
            fields=("transaction_data.line_items[0].product_name",)),
    Hostile("size-national-id-1000", "sizes", 422, INVALID, "a 1,000-digit national id",
            body=guide("size-national-id-1000", {"customer_data.national_id": "1" * 1000}),
            fields=("customer_data.national_id",)),
    Hostile("size-email-300", "sizes", 422, INVALID, "a 300-character e-mail",
            body=guide("size-email-300", {"customer_data.email": "a" * 288 + "@example.com"}),
            fields=("customer_data.email",)),
    Hostile("size-first-name-101", "sizes", 422, INVALID, "a first name over 100 characters",
            body=guide("size-first-name-101", {"customer_data.first_name": "D" * 101}),
            fields=("customer_data.first_name",)),
    Hostile("size-501-line-items", "sizes", 422, INVALID, "501 line items (cap 500)",
            body=guide("size-501-line-items", {"transaction_data.line_items": [
                {"product_sku": "S", "quantity": 1, "unit_price": 1}] * 501}),
            fields=("transaction_data.line_items",)),

    # -- control characters that JSON can carry escaped: refused by the payload rules (422)
    Hostile("nul-escaped-in-product-name", "encoding", 422, INVALID, "\\u0000 in product_name",
            body=guide_in_string("nul-escaped-in-product-name", "transaction_data.line_items.0.product_name",
                                 b"\\u0000"),
            fields=("transaction_data.line_items[0].product_name",)),
    Hostile("nul-escaped-in-transaction-id", "encoding", 422, INVALID, "\\u0000 in transaction_id",
            body=guide_in_string("nul-escaped-in-transaction-id", "transaction_data.transaction_id", b"\\u0000"),
            fields=("transaction_data.transaction_id",)),
    Hostile("nul-escaped-in-national-id", "encoding", 422, INVALID, "\\u0000 in national_id",
            body=guide_in_string("nul-escaped-in-national-id", "customer_data.national_id", b"\\u0000"),
            fields=("customer_data.national_id",)),
    Hostile("nul-escaped-in-email", "encoding", 422, INVALID, "\\u0000 in email",
            body=guide_raw("nul-escaped-in-email", "customer_data.email", b'"cliente\\u0000@email.com"'),
            fields=("customer_data.email",)),
    Hostile("nul-escaped-in-event-type", "encoding", 422, INVALID, "transaction.created\\u0000",
            body=guide_raw("nul-escaped-in-event-type", "event_type", b'"transaction.created\\u0000"'),
            fields=("event_type",)),
    Hostile("ansi-escape-in-first-name", "encoding", 422, INVALID, "\\u001b[2J: a terminal escape in a name",
            body=guide_raw("ansi-escape-in-first-name", "customer_data.first_name", b'"\\u001b[2JDiego"'),
            fields=("customer_data.first_name",)),

    # -- SQL and shell metacharacters in every string field: data, judged by each field's rules
    Hostile("meta-sql-in-national-id", "metacharacters", 422, INVALID, "national ids are letters and digits",
            body=guide("meta-sql-in-national-id", {"customer_data.national_id": "1'; DROP TABLE customers; --"}),
            fields=("customer_data.national_id",)),
    Hostile("meta-shell-in-national-id", "metacharacters", 422, INVALID, "national ids are letters and digits",
            body=guide("meta-shell-in-national-id", {"customer_data.national_id": "123$(reboot)"}),
            fields=("customer_data.national_id",)),
    Hostile("meta-sql-in-email", "metacharacters", 422, INVALID, "';' and ' ' are not allowed in an address",
            body=guide("meta-sql-in-email", {"customer_data.email": "x';DROP TABLE customers;--@example.com"}),
            fields=("customer_data.email",)),
    Hostile("meta-shell-in-email", "metacharacters", 422, INVALID, "'(' and ')' are not allowed in an address",
            body=guide("meta-shell-in-email", {"customer_data.email": "a$(reboot)@example.com"}),
            fields=("customer_data.email",)),
    Hostile("meta-sql-in-phone", "metacharacters", 422, INVALID, "phone numbers are + and digits",
            body=guide("meta-sql-in-phone", {"customer_data.phone_number": "+573001234567'; --"}),
            fields=("customer_data.phone_number",)),
    Hostile("meta-shell-in-whatsapp", "metacharacters", 422, INVALID, "phone numbers are + and digits",
            body=guide("meta-shell-in-whatsapp", {"customer_data.whatsapp_number": "+57 300 $(reboot)"}),
            fields=("customer_data.whatsapp_number",)),
    Hostile("meta-sql-in-code", "metacharacters", 422, INVALID, "codes are letters, digits and . _ : -",
            body=guide("meta-sql-in-code",
                       {"transaction_data.line_items.0.autentikapp_code": "X'; DROP TABLE identifiers;--"}),
            fields=("transaction_data.line_items[0].autentikapp_code",)),
    Hostile("meta-path-traversal-in-code", "metacharacters", 422, INVALID, "../../etc/passwd as a code",
            body=guide("meta-path-traversal-in-code",
                       {"transaction_data.line_items.0.autentikapp_code": "../../etc/passwd"}),
            fields=("transaction_data.line_items[0].autentikapp_code",)),
    Hostile("meta-shell-in-code", "metacharacters", 422, INVALID, "$(id) as a code",
            body=guide("meta-shell-in-code", {"transaction_data.line_items.0.autentikapp_code": "$(id)"}),
            fields=("transaction_data.line_items[0].autentikapp_code",)),
    Hostile("meta-sql-in-currency", "metacharacters", 422, INVALID, "currencies are 3 letters",
            body=guide("meta-sql-in-currency", {"transaction_data.currency": "';--"}),
            fields=("transaction_data.currency",)),
    Hostile("meta-sql-in-event-type", "metacharacters", 422, INVALID, "event_type is one exact value",
            body=guide("meta-sql-in-event-type", {"event_type": "transaction.created' OR '1'='1"}),
            fields=("event_type",)),
    Hostile("meta-sql-in-timestamp", "metacharacters", 422, INVALID, "not an ISO 8601 date-time",
            body=guide("meta-sql-in-timestamp", {"event_timestamp": "2025-09-13T14:30:00Z'; --"}),
            fields=("event_timestamp",)),
    Hostile("meta-quotes-in-email", "metacharacters", 202, None, "o'brien@ is a valid address: stored as sent",
            body=_encode(sale_for("meta-quotes-in-email", customer={"email": "o'brien@correo-tienda.co"})),
            stored=Stored(code_for("meta-quotes-in-email"), {}, {"email": "o'brien@correo-tienda.co"})),
    Hostile("meta-backticks-in-email", "metacharacters", 202, None, "`id`@ is a valid address: stored as sent",
            body=_encode(sale_for("meta-backticks-in-email", customer={"email": "`id`@correo-tienda.co"})),
            stored=Stored(code_for("meta-backticks-in-email"), {}, {"email": "`id`@correo-tienda.co"})),
    Hostile("meta-sql-and-shell-in-names", "metacharacters", 202, None, "names are free text: stored verbatim",
            body=_encode(sale_for("meta-sql-and-shell-in-names", customer={
                "email": "names@correo-tienda.co", "first_name": "O'Brien \"Bobby\"; DROP TABLE customers;--",
                "last_name": "$(rm -rf /) `id` | & > < ${IFS} %s %n \\"})),
            stored=Stored(code_for("meta-sql-and-shell-in-names"), {}, {
                "email": "names@correo-tienda.co", "first_name": "O'Brien \"Bobby\"; DROP TABLE customers;--",
                "last_name": "$(rm -rf /) `id` | & > < ${IFS} %s %n \\"})),
    Hostile("meta-sql-and-shell-in-product", "metacharacters", 202, None,
            "product name and SKU are free text: stored verbatim",
            body=_encode(sale_for("meta-sql-and-shell-in-product", item={
                "product_sku": "SKU'; DELETE FROM identifiers;--",
                "product_name": "Bolso \"Edición\" O'Reilly; DROP TABLE identifiers;-- $(reboot) `id` && rm -rf / #"})),
            stored=Stored(code_for("meta-sql-and-shell-in-product"), {
                "product_sku": "SKU'; DELETE FROM identifiers;--",
                "product_name": "Bolso \"Edición\" O'Reilly; DROP TABLE identifiers;-- $(reboot) `id` && rm -rf / #"},
                {})),
    Hostile("meta-sql-and-shell-in-transaction-id", "metacharacters", 202, None,
            "transaction ids are the sender's: stored verbatim",
            body=_encode(sale_for("meta-sql-and-shell-in-transaction-id",
                                  transaction_id="T'; DROP TABLE event_outcomes;-- $(reboot)")),
            stored=Stored(code_for("meta-sql-and-shell-in-transaction-id"),
                          {"transaction_id": "T'; DROP TABLE event_outcomes;-- $(reboot)"}, {})),
    Hostile("meta-prototype-pollution-keys", "metacharacters", 202, None,
            "__proto__ / constructor members are unknown fields: ignored",
            body=_encode(sale_for("meta-prototype-pollution-keys", extra={
                "__proto__": {"admin": True}, "constructor": {"prototype": {"admin": True}}})),
            stored=Stored(code_for("meta-prototype-pollution-keys"), {},
                          {"email": "meta-prototype-pollution-keys@correo-tienda.co"})),

    # -- the payload rules' own refusals: 422 naming the fields
    Hostile("rule-empty-object", "rules", 422, INVALID, "{}: every required member missing", body=b"{}",
            fields=("event_type", "event_timestamp", "transaction_data")),  # no event type: no sale's rules
    Hostile("rule-other-event-type", "rules", 422, INVALID, "transaction.deleted",
            body=guide("rule-other-event-type", {"event_type": "transaction.deleted"}), fields=("event_type",)),
    Hostile("rule-timestamp-without-offset", "rules", 422, INVALID, "a local time with no offset",
            body=guide("rule-timestamp-without-offset", {"event_timestamp": "2025-09-13T14:30:00"}),
            fields=("event_timestamp",)),
    Hostile("rule-timestamp-far-future", "rules", 422, INVALID, "the year 9999",
            body=guide("rule-timestamp-far-future", {"event_timestamp": "9999-12-31T23:59:59Z"}),
            fields=("event_timestamp",)),
    Hostile("rule-timestamp-out-of-range", "rules", 422, INVALID, "0001-01-01T00:00:00+14:00 is before year 1 in UTC",
            body=guide("rule-timestamp-out-of-range", {"event_timestamp": "0001-01-01T00:00:00+14:00"}),
            fields=("event_timestamp",)),
    Hostile("rule-timestamp-impossible-date", "rules", 422, INVALID, "February 30th",
            body=guide("rule-timestamp-impossible-date", {"event_timestamp": "2025-02-30T10:00:00Z"}),
            fields=("event_timestamp",)),
    Hostile("rule-customer-without-contact", "rules", 422, INVALID, "names only: no national_id, email or phone",
            body=guide("rule-customer-without-contact", {"customer_data": {"first_name": "Diego"}}),
            fields=("customer_data",)),
    Hostile("rule-email-not-an-address", "rules", 422, INVALID, "not an e-mail address",
            body=guide("rule-email-not-an-address", {"customer_data.email": "cliente-at-email.com"}),
            fields=("customer_data.email",)),
    Hostile("rule-missing-transaction-id", "rules", 422, INVALID, "no transaction_id",
            body=guide("rule-missing-transaction-id", {"transaction_data.transaction_id": _DROP}),
            fields=("transaction_data.transaction_id",)),

    # -- accepted as data: the edges of what is valid
    Hostile("accept-bom", "encoding", 202, None, "a UTF-8 byte-order mark first (RFC 8259 lets parsers ignore it)",
            body=b"\xef\xbb\xbf" + _encode(sale_for("accept-bom")),
            stored=Stored(code_for("accept-bom"), {}, {"email": "accept-bom@correo-tienda.co"})),
    Hostile("accept-escaped-surrogate-pair", "encoding", 202, None, "\\ud83d\\ude00 is a valid pair: one emoji",
            body=_encode(sale_for("accept-escaped-surrogate-pair", customer={
                "email": "accept-escaped-surrogate-pair@correo-tienda.co", "first_name": _MARK})).replace(
                    _MARK.encode(), b"\\ud83d\\ude00"),
            stored=Stored(code_for("accept-escaped-surrogate-pair"), {}, {"first_name": "\U0001F600"})),
    Hostile("accept-total-negative-zero", "numbers", 202, None, "-0.0 is zero, a valid amount",
            body=_encode(sale_for("accept-total-negative-zero")).replace(b'"total_amount": 10',
                                                                          b'"total_amount": -0.0'),
            stored=Stored(code_for("accept-total-negative-zero"), {}, {})),
    Hostile("accept-body-exactly-at-cap", "sizes", 202, None, "exactly GATEWAY_MAX_BODY_BYTES bytes",
            body=_padded_to(MAX_BODY_BYTES),
            stored=Stored(code_for("body-exactly-at-cap"), {}, {"email": "body-exactly-at-cap@correo-tienda.co"})),

    # -- content types: 415 once the signature is right
    Hostile("ctype-missing", "content-type", 415, MEDIA_TYPE, "no Content-Type", content_type=None,
            body=guide("ctype-missing")),
    Hostile("ctype-text-plain", "content-type", 415, MEDIA_TYPE, "text/plain", content_type="text/plain",
            body=guide("ctype-text-plain")),
    Hostile("ctype-form", "content-type", 415, MEDIA_TYPE, "a form",
            content_type="application/x-www-form-urlencoded", body=b"event_type=transaction.created"),
    Hostile("ctype-multipart", "content-type", 415, MEDIA_TYPE, "multipart",
            content_type="multipart/form-data; boundary=x",
            body=b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n"),
    Hostile("ctype-json-latin1", "content-type", 415, MEDIA_TYPE, "JSON declared as ISO-8859-1",
            content_type="application/json; charset=iso-8859-1", body=guide("ctype-json-latin1")),
    Hostile("ctype-json-utf16", "content-type", 415, MEDIA_TYPE, "JSON declared as UTF-16",
            content_type="application/json; charset=utf-16", body=guide("ctype-json-utf16")),
    Hostile("ctype-problem-json", "content-type", 415, MEDIA_TYPE, "application/problem+json is not a sale",
            content_type="application/problem+json", body=guide("ctype-problem-json")),
    Hostile("ctype-xml", "content-type", 415, MEDIA_TYPE, "XML with an external entity",
            content_type="application/xml",
            body=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
    Hostile("ctype-wrong-and-unsigned", "content-type", 401, SIGNATURE, "unsigned: 401 comes before 415",
            content_type="text/plain", signature=UNSIGNED, body=guide("ctype-wrong-and-unsigned")),

    # -- signatures: 401, the same answer for every failure
    Hostile("sig-missing", "signature", 401, SIGNATURE, "no signature header", signature=UNSIGNED,
            body=guide("sig-missing")),
    Hostile("sig-wrong-secret", "signature", 401, SIGNATURE, "signed with another secret", signature=_wrong_secret,
            body=guide("sig-wrong-secret")),
    Hostile("sig-other-body", "signature", 401, SIGNATURE, "the signature of a different body",
            signature=_other_body, body=guide("sig-other-body")),
    Hostile("sig-63-hex", "signature", 401, SIGNATURE, "one hex digit short", signature=_truncated,
            body=guide("sig-63-hex")),
    Hostile("sig-non-hex", "signature", 401, SIGNATURE, "64 characters that are not hex", signature=_non_hex,
            body=guide("sig-non-hex")),
    Hostile("sig-sha256-prefix", "signature", 401, SIGNATURE, "'sha256=<hex>' (another vendor's format)",
            signature=_prefixed, body=guide("sig-sha256-prefix")),
    Hostile("sig-base64", "signature", 401, SIGNATURE, "the right HMAC, base64 instead of hex",
            signature=_base64, body=guide("sig-base64")),
    Hostile("sig-empty", "signature", 401, SIGNATURE, "an empty header", signature=_empty,
            body=guide("sig-empty")),
    Hostile("sig-8kb", "signature", 401, SIGNATURE, "an 8,000-character header (the right HMAC 125 times)",
            signature=_eight_kb, body=guide("sig-8kb")),
    Hostile("sig-10kb", "signature", 431, SERVER, "a 10 KB header: over gunicorn's 8,190-byte field limit",
            signature=_ten_kb, body=guide("sig-10kb")),
    Hostile("sig-duplicate-headers-both-valid", "signature", 401, SIGNATURE,
            "the right signature twice: joined into one value, which is not a signature",
            wire=_with_headers(lambda ctx: [("X-Autentikapp-Signature", ctx.sign(_SMALL))])),
    Hostile("sig-duplicate-headers-one-wrong", "signature", 401, SIGNATURE, "the right signature and a wrong one",
            wire=_with_headers(lambda ctx: [("X-Autentikapp-Signature", "0" * 64)])),
    Hostile("sig-underscore-header-name", "signature", 401, SIGNATURE,
            "X_Autentikapp_Signature: gunicorn drops headers with underscores",
            wire=lambda ctx: build_request("POST", ctx.path, [("Content-Type", "application/json"),
                                                              ("X_Autentikapp_Signature", ctx.sign(_SMALL))], _SMALL)),
    Hostile("sig-crlf-splits-header", "signature", 401, SIGNATURE,
            "'zz\\r\\nX-Injected: 1': CR LF ends the value; the rest is another header",
            wire=lambda ctx: build_request("POST", ctx.path, [("Content-Type", "application/json"),
                                                              ("X-Autentikapp-Signature", "zz\r\nX-Injected: 1")],
                                           _SMALL)),
    Hostile("sig-bare-cr-in-value", "signature", 400, SERVER, "a bare CR inside the value",
            wire=_with_signature_value(lambda sig: sig + "\rX-Injected: 1")),
    Hostile("sig-bare-lf-in-value", "signature", 400, SERVER, "a bare LF inside the value",
            wire=_with_signature_value(lambda sig: sig + "\nX-Injected: 1")),
    Hostile("sig-nul-in-value", "signature", 400, SERVER, "a NUL inside the value",
            wire=_with_signature_value(lambda sig: sig + "\x00")),
    Hostile("sig-obsolete-line-folding", "signature", 400, SERVER, "the value folded onto a continuation line",
            wire=_with_signature_value(lambda sig: sig[:32] + "\r\n " + sig[32:])),
    Hostile("sig-space-before-colon", "signature", 400, SERVER, "'X-Autentikapp-Signature :' (a smuggling classic)",
            wire=lambda ctx: build_request("POST", ctx.path, [("Content-Type", "application/json"),
                                                              ("X-Autentikapp-Signature ", ctx.sign(_SMALL))], _SMALL)),
    Hostile("sig-unknown-tenant", "signature", 401, SIGNATURE, "a well-formed tenant id that does not exist",
            path="/v1/webhooks/inbound/nobody", body=guide("sig-unknown-tenant")),

    # -- the tenant id in the path: 401 when it is (or decodes to) a malformed id, 404 when it leaves the route
    Hostile("path-dotdot-encoded", "path", 404, NOT_FOUND, "..%2F..%2Fhealthz: the decoded '/' leaves the route",
            path="/v1/webhooks/inbound/..%2F..%2Fhealthz", body=guide("path-dotdot-encoded")),
    Hostile("path-dotdot-raw", "path", 404, NOT_FOUND, "../../healthz sent as is (not normalised)",
            path="/v1/webhooks/inbound/../../healthz", body=guide("path-dotdot-raw")),
    Hostile("path-dotdot-as-tenant", "path", 401, SIGNATURE, "%2E%2E: the tenant id '..'",
            path="/v1/webhooks/inbound/%2E%2E", body=guide("path-dotdot-as-tenant")),
    Hostile("path-nul", "path", 401, SIGNATURE, "acme%00", path=PATH + "%00", body=guide("path-nul")),
    Hostile("path-newline", "path", 401, SIGNATURE, "acme%0A", path=PATH + "%0A", body=guide("path-newline")),
    Hostile("path-crlf-header-injection", "path", 401, SIGNATURE, "acme%0D%0AX-Injected:%201",
            path=PATH + "%0D%0AX-Injected:%201", body=guide("path-crlf-header-injection")),
    Hostile("path-nats-wildcard", "path", 401, SIGNATURE, "acme.> : a NATS wildcard subject",
            path=PATH + ".%3E", body=guide("path-nats-wildcard")),
    Hostile("path-nats-star", "path", 401, SIGNATURE, "* : a NATS wildcard token",
            path="/v1/webhooks/inbound/*", body=guide("path-nats-star")),
    Hostile("path-sql", "path", 401, SIGNATURE, "acme' OR '1'='1",
            path=PATH + "'%20OR%20'1'='1", body=guide("path-sql")),
    Hostile("path-uppercase", "path", 401, SIGNATURE, "ACME: tenant ids are case-sensitive",
            path="/v1/webhooks/inbound/ACME", body=guide("path-uppercase")),
    Hostile("path-65-chars", "path", 401, SIGNATURE, "a tenant id one over the 64-character cap",
            path="/v1/webhooks/inbound/" + "a" * 65, body=guide("path-65-chars")),
    Hostile("path-3000-chars", "path", 401, SIGNATURE, "a 3,000-character tenant id",
            path="/v1/webhooks/inbound/" + "a" * 3000, body=guide("path-3000-chars")),
    Hostile("path-5000-chars", "path", 414, SERVER, "a 5,000-character tenant id: over gunicorn's request-line limit",
            path="/v1/webhooks/inbound/" + "a" * 5000, body=guide("path-5000-chars")),
    Hostile("path-unicode-encoded", "path", 401, SIGNATURE, "acm%C3%A9 (acmé)",
            path="/v1/webhooks/inbound/acm%C3%A9", body=guide("path-unicode-encoded")),
    Hostile("path-fullwidth-unicode", "path", 401, SIGNATURE, "ａｃｍｅ in fullwidth letters is not acme",
            path="/v1/webhooks/inbound/%EF%BD%81%EF%BD%83%EF%BD%8D%EF%BD%85", body=guide("path-fullwidth-unicode")),
    Hostile("path-overlong-utf8", "path", 401, SIGNATURE, "%C0%AE%C0%AE: an overlong '..'",
            path="/v1/webhooks/inbound/%C0%AE%C0%AE", body=guide("path-overlong-utf8")),
    Hostile("path-raw-utf8-in-request-line", "path", 400, SERVER, "a raw non-ASCII byte in the request line",
            wire=_request_line("POST {path}é HTTP/1.1")),
    Hostile("path-trailing-slash", "path", 404, NOT_FOUND, "acme/", path=PATH + "/", body=guide("path-trailing-slash")),
    Hostile("path-no-tenant", "path", 404, NOT_FOUND, "nothing after inbound/",
            path="/v1/webhooks/inbound/", body=guide("path-no-tenant")),

    # -- methods: 405 with Allow: POST
    *[
        Hostile(f"method-{method.lower()}", "method", 405, NOT_ALLOWED, f"{method} on the webhook path",
                method=method, body=guide(f"method-{method.lower()}"))
        for method in ("GET", "PUT", "DELETE", "PATCH", "TRACE", "BREW")
    ],
    Hostile("method-lowercase-post", "method", 400, SERVER, "'post': methods are case-sensitive tokens",
            wire=_request_line("post {path} HTTP/1.1")),

    # -- HTTP framing: Content-Length, chunked, versions
    Hostile("http-content-length-negative", "http", 400, SERVER, "Content-Length: -1",
            wire=_with_headers(lambda ctx: [("Content-Length", "-1")], content_length=False)),
    Hostile("http-content-length-plus-sign", "http", 400, SERVER, "Content-Length: +N",
            wire=_with_headers(lambda ctx: [("Content-Length", f"+{len(_SMALL)}")], content_length=False)),
    Hostile("http-content-length-twice", "http", 400, SERVER, "two Content-Length headers",
            wire=_with_headers(lambda ctx: [("Content-Length", str(len(_SMALL))), ("Content-Length", str(len(_SMALL)))],
                               content_length=False)),
    Hostile("http-content-length-shorter-than-body", "http", 401, SIGNATURE,
            "Content-Length 10, more sent: only 10 bytes are the body, and the signature is over all of it",
            wire=_with_headers(lambda ctx: [("Content-Length", "10")], content_length=False)),
    Hostile("http-content-length-longer-than-body", "http", 400, BAD_REQUEST,
            "Content-Length 100 more than sent, then the client stops sending",
            wire=_with_headers(lambda ctx: [("Content-Length", str(len(_SMALL) + 100))], content_length=False),
            half_close=True),
    Hostile("http-content-length-and-chunked", "http", 400, SERVER, "both framings (request smuggling)",
            wire=lambda ctx: build_request("POST", ctx.path, _signed_headers(ctx, _SMALL) + [
                ("Content-Length", str(len(_SMALL))), ("Transfer-Encoding", "chunked")], _chunked(_SMALL),
                content_length=False)),
    Hostile("http-chunked-twice", "http", 400, SERVER, "Transfer-Encoding: chunked, chunked",
            wire=lambda ctx: build_request("POST", ctx.path, _signed_headers(ctx, _SMALL) + [
                ("Transfer-Encoding", "chunked, chunked")], _chunked(_SMALL), content_length=False)),
    Hostile("http-transfer-encoding-gzip", "http", 400, SERVER, "Transfer-Encoding: gzip without chunked",
            wire=_with_headers(lambda ctx: [("Transfer-Encoding", "gzip")], content_length=False)),
    Hostile("http-chunk-size-not-hex", "http", 400, BAD_REQUEST, "chunk size 'zz'",
            wire=_chunked_wire(b"zz\r\n" + _SMALL + b"\r\n0\r\n\r\n")),
    Hostile("http-chunk-size-negative", "http", 400, BAD_REQUEST, "chunk size '-1'",
            wire=_chunked_wire(b"-1\r\n" + _SMALL + b"\r\n0\r\n\r\n")),
    Hostile("http-chunk-missing-terminator", "http", 400, BAD_REQUEST, "a chunk not followed by CR LF",
            wire=_chunked_wire(b"%x\r\n" % len(_SMALL) + _SMALL + b"XX0\r\n\r\n")),
    Hostile("http-chunk-extension-with-nul", "http", 400, BAD_REQUEST, "a NUL in a chunk extension",
            wire=_chunked_wire(b"%x;\x00\r\n" % len(_SMALL) + _SMALL + b"\r\n0\r\n\r\n")),
    Hostile("http-chunk-truncated", "http", 400, BAD_REQUEST, "a chunk shorter than its size, then the client stops",
            wire=_chunked_wire(b"%x\r\n" % (len(_SMALL) + 50) + _SMALL), half_close=True),
    Hostile("http-chunk-size-huge", "http", 400, BAD_REQUEST, "chunk size of 24 hex digits, then the client stops",
            wire=_chunked_wire(b"F" * 24 + b"\r\n" + _SMALL), half_close=True),
    Hostile("http-version-2", "http", 400, SERVER, "HTTP/2.0 in an HTTP/1 request line",
            wire=_request_line("POST {path} HTTP/2.0")),
    Hostile("http-request-target-asterisk", "http", 400, SERVER, "POST *",
            wire=_request_line("POST * HTTP/1.1")),
    Hostile("http-expect-unknown", "http", 417, SERVER, "Expect: 200-ok",
            wire=_with_headers(lambda ctx: [("Expect", "200-ok")])),
    Hostile("http-200-headers", "http", 431, SERVER, "200 extra headers (gunicorn allows 100)",
            wire=_with_headers(lambda ctx: [(f"X-Filler-{i}", "v") for i in range(200)])),
    Hostile("http-content-type-twice", "http", 400, SERVER, "two Content-Type headers",
            wire=_with_headers(lambda ctx: [("Content-Type", "text/plain")])),
]


# -- the other signature schemes: Standard Webhooks, a tenant requiring it, Shopify, WooCommerce ---------
# Signed here from the specifications (standardwebhooks.com; Shopify's and WooCommerce's base64 HMAC of
# the body), independently of the gateway's code.


def standard_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, keyed by the base64 after `whsec_`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def platform_signature(secret: str, body: bytes) -> str:
    """What Shopify and WooCommerce send: base64 of the HMAC-SHA256 of the body under their secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


SW_ID = "msg_2Lm9hostile"
FAR = 3600  # seconds: far outside the default tolerance of 300
Value = str | Callable[[WireContext], str]


def _standard(*, msg_id: Value = SW_ID, timestamp: Value | None = None,
              signature: Callable[[WireContext, str, str, bytes], str] | None = None,
              signed_id: str | None = None, signed_timestamp: Callable[[WireContext], str] | None = None,
              signed_body: bytes | None = None, signer: str = TENANT, drop: tuple[str, ...] = (),
              extra: Callable[[WireContext], list[tuple[str, str]]] = lambda ctx: [],
              path: str | None = None, body: bytes = _SMALL) -> Callable[[WireContext], bytes]:
    """A Standard Webhooks request: the three headers (valid by default: this id, the current time, the
    signature by `signer`'s secret over what was sent), with what the entry makes hostile: the values sent,
    what was signed instead (`signed_*`), a `signature` function, headers dropped, headers added."""
    def build(ctx: WireContext) -> bytes:
        sent_id = msg_id(ctx) if callable(msg_id) else msg_id
        now = str(ctx.now())
        sent_ts = (timestamp(ctx) if callable(timestamp) else timestamp) if timestamp is not None else now
        if signature is not None:
            sig = signature(ctx, sent_id, sent_ts, body)
        else:
            sig = standard_signature(ctx.secrets[signer], signed_id if signed_id is not None else sent_id,
                                     signed_timestamp(ctx) if signed_timestamp else sent_ts,
                                     signed_body if signed_body is not None else body)
        headers = [("Content-Type", "application/json"), ("webhook-id", sent_id), ("webhook-timestamp", sent_ts),
                   ("webhook-signature", sig)]
        headers = [(name, value) for name, value in headers if name not in drop] + extra(ctx)
        return build_request("POST", path or ctx.path, headers, body)
    return build


def _valid_sw(ctx: WireContext) -> str:
    """A valid webhook-signature for _SMALL sent with SW_ID at the current time."""
    return standard_signature(ctx.secrets[TENANT], SW_ID, str(ctx.now()), _SMALL)


def _stale(delta: int) -> Callable[[WireContext], str]:
    return lambda ctx: str(ctx.now() + delta)


def _shopify_order(name: str) -> bytes:
    """A Shopify orders/create body that would be a sale (a coded line item, a buyer)."""
    return _encode({"id": 9_000_000 + sum(map(ord, name)), "created_at": "2025-09-13T09:30:00-05:00",
                    "currency": "COP", "total_price": "10.00", "email": f"{name}@correo-tienda.co",
                    "line_items": [{"sku": "SKU-1", "title": "Plain product", "quantity": 1, "price": "10.00",
                                    "properties": [{"name": "autentikapp_code", "value": f"PLATFORM-{name}"}]}]})


def _woo_order(name: str) -> bytes:
    """A WooCommerce order.created body that would be a sale (paid, a coded line item, a buyer)."""
    return _encode({"id": 8_000_000 + sum(map(ord, name)), "status": "processing", "currency": "COP",
                    "total": "10.00", "date_created_gmt": "2025-09-13T19:28:08", "date_paid_gmt": "2025-09-13T19:28:08",
                    "billing": {"email": f"{name}@correo-tienda.co"},
                    "line_items": [{"sku": "SKU-1", "name": "Plain product", "quantity": 1, "price": 10,
                                    "meta_data": [{"key": "autentikapp_code", "value": f"PLATFORM-{name}"}]}]})


_PLATFORM_HEADERS = {SHOPIFY: ("X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "orders/create", "X-Shopify-Webhook-Id"),
                     WOOCOMMERCE: ("X-WC-Webhook-Signature", "X-WC-Webhook-Topic", "order.created",
                                   "X-WC-Webhook-Delivery-ID")}


def _platform(platform: str, body: bytes, *, signature: Callable[[WireContext, bytes], str] | None = None,
              unsigned: bool = False, topic: str | None = "", content_type: str | None = "application/json",
              tenant: str = TENANT, extra: Callable[[WireContext], list[tuple[str, str]]] = lambda ctx: [],
              ) -> Callable[[WireContext], bytes]:
    """A delivery to `platform`'s endpoint: signed with TENANT's secret for it unless `signature` says
    otherwise (or `unsigned`), with its usual topic ("" for the platform's sale topic, None for none)."""
    signature_header, topic_header, sale_topic, delivery_header = _PLATFORM_HEADERS[platform]

    def build(ctx: WireContext) -> bytes:
        headers = [("Content-Type", content_type)] if content_type is not None else []
        if not unsigned:
            headers.append((signature_header, signature(ctx, body) if signature is not None
                            else platform_signature(ctx.secrets[platform], body)))
        if topic is not None:
            headers.append((topic_header, topic or sale_topic))
        headers.append((delivery_header, "delivery-hostile-1"))
        return build_request("POST", f"/v1/webhooks/{platform}/{tenant}", headers + extra(ctx), body)
    return build


def _woo_ping(body: bytes, content_type: str | None = "application/x-www-form-urlencoded", tenant: str = TENANT,
              ) -> Callable[[WireContext], bytes]:
    """What WooCommerce sends when a webhook is saved: a form POST without signature or topic."""
    def build(ctx: WireContext) -> bytes:
        headers = [("Content-Type", content_type)] if content_type is not None else []
        return build_request("POST", f"/v1/webhooks/woocommerce/{tenant}", headers + [("User-Agent", "WooCommerce")],
                             body)
    return build


def _other_platform_secret(platform: str) -> Callable[[WireContext, bytes], str]:
    return lambda ctx, body: platform_signature(ctx.secrets[platform], body)


SW = "standard-webhooks"
OK = "ok"
IGNORED = "ignored"
CLOCK = "clock"
MISSING = "missing"
TIMESTAMPED_REQUIRED = "requires timestamped"

SIGNATURE_SCHEMES: list[Hostile] = [
    # -- Standard Webhooks: 401 for every failure; a header missing, malformed or stale is said so
    Hostile("sw-missing-id", SW, 401, SIGNATURE, "timestamp and signature, no webhook-id",
            wire=_standard(drop=("webhook-id",)), detail="webhook-id missing"),
    Hostile("sw-missing-timestamp", SW, 401, SIGNATURE, "id and signature, no webhook-timestamp",
            wire=_standard(drop=("webhook-timestamp",)), detail="webhook-timestamp missing"),
    Hostile("sw-missing-signature", SW, 401, SIGNATURE, "id and timestamp, no webhook-signature",
            wire=_standard(drop=("webhook-signature",)), detail="webhook-signature missing"),
    Hostile("sw-id-empty", SW, 401, SIGNATURE, "'webhook-id:' with no value (signed over the empty id)",
            wire=_standard(msg_id=""), detail="webhook-id missing"),
    Hostile("sw-id-8000-chars", SW, 401, SIGNATURE, "an 8,000-character webhook-id, correctly signed",
            wire=_standard(msg_id="m" * 8000), detail="visible ASCII"),
    Hostile("sw-id-10kb", SW, 431, SERVER, "a 10 KB webhook-id: over gunicorn's 8,190-byte field limit",
            wire=_standard(msg_id="m" * 10 * 1024)),
    Hostile("sw-id-tab", SW, 401, SIGNATURE, "a TAB inside webhook-id (the one control character HTTP allows)",
            wire=_standard(msg_id="msg\tid"), detail="visible ASCII"),
    Hostile("sw-id-control-char", SW, 400, SERVER, "a \\x01 inside webhook-id", wire=_standard(msg_id="msg\x01id")),
    Hostile("sw-id-escape-sequence", SW, 400, SERVER, "an ANSI escape (ESC[2J) inside webhook-id",
            wire=_standard(msg_id="msg\x1b[2Jid")),
    Hostile("sw-id-delete-char", SW, 400, SERVER, "a DEL (\\x7f) inside webhook-id", wire=_standard(msg_id="msg\x7fid")),
    Hostile("sw-id-non-ascii", SW, 401, SIGNATURE, "webhook-id 'msg_é' as UTF-8 bytes, correctly signed",
            wire=_standard(msg_id="msg_é".encode().decode("latin-1")), detail="visible ASCII"),
    Hostile("sw-id-inner-space", SW, 401, SIGNATURE, "'msg 1': a space is not a visible character",
            wire=_standard(msg_id="msg 1"), detail="visible ASCII"),
    Hostile("sw-id-crlf-splits-header", SW, 401, SIGNATURE,
            "'msg\\r\\nX-Injected: 1' signed whole: CR LF ends the id, which no longer matches",
            wire=_standard(msg_id="msg\r\nX-Injected: 1")),
    Hostile("sw-id-bare-lf", SW, 400, SERVER, "a bare LF inside webhook-id", wire=_standard(msg_id="msg\nX-Injected: 1")),
    Hostile("sw-id-nul", SW, 400, SERVER, "a NUL inside webhook-id", wire=_standard(msg_id="msg\x00")),
    Hostile("sw-timestamp-non-numeric", SW, 401, SIGNATURE, "webhook-timestamp 'yesterday', correctly signed",
            wire=_standard(timestamp="yesterday"), detail="Unix seconds"),
    Hostile("sw-timestamp-rfc3339", SW, 401, SIGNATURE, "an RFC 3339 date instead of Unix seconds",
            wire=_standard(timestamp="2025-09-13T14:30:00Z"), detail="Unix seconds"),
    Hostile("sw-timestamp-negative", SW, 401, SIGNATURE, "a negative timestamp",
            wire=_standard(timestamp=lambda ctx: str(-ctx.now())), detail="Unix seconds"),
    Hostile("sw-timestamp-plus-sign", SW, 401, SIGNATURE, "'+<now>'",
            wire=_standard(timestamp=lambda ctx: f"+{ctx.now()}"), detail="Unix seconds"),
    Hostile("sw-timestamp-float", SW, 401, SIGNATURE, "'<now>.5': not whole seconds",
            wire=_standard(timestamp=lambda ctx: f"{ctx.now()}.5"), detail="Unix seconds"),
    Hostile("sw-timestamp-milliseconds", SW, 401, SIGNATURE, "the current time in milliseconds (13 digits)",
            wire=_standard(timestamp=lambda ctx: str(ctx.now() * 1000)), detail="Unix seconds"),
    Hostile("sw-timestamp-40-digits", SW, 401, SIGNATURE, "a 40-digit timestamp (no integer overflow)",
            wire=_standard(timestamp="9" * 40), detail="Unix seconds"),
    Hostile("sw-timestamp-inner-space", SW, 401, SIGNATURE, "'17 00...': digits with a space",
            wire=_standard(timestamp=lambda ctx: f"{str(ctx.now())[:2]} {str(ctx.now())[2:]}"), detail="Unix seconds"),
    Hostile("sw-timestamp-arabic-digits", SW, 401, SIGNATURE, "the time in Arabic-Indic digits (UTF-8 bytes)",
            wire=_standard(timestamp=lambda ctx: str(ctx.now()).translate(
                str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")).encode().decode("latin-1")), detail="Unix seconds"),
    Hostile("sw-timestamp-zero", SW, 401, SIGNATURE, "timestamp 0 (1970), correctly signed",
            wire=_standard(timestamp="0"), detail=CLOCK),
    Hostile("sw-timestamp-far-past", SW, 401, SIGNATURE, "an hour old, correctly signed: a captured request replayed",
            wire=_standard(timestamp=_stale(-FAR)), detail=CLOCK),
    Hostile("sw-timestamp-far-future", SW, 401, SIGNATURE, "an hour ahead, correctly signed",
            wire=_standard(timestamp=_stale(FAR)), detail=CLOCK),
    Hostile("sw-timestamp-12-digits", SW, 401, SIGNATURE, "999999999999: the largest accepted form, far ahead",
            wire=_standard(timestamp="9" * 12), detail=CLOCK),
    Hostile("sw-signature-v1-empty", SW, 401, SIGNATURE, "'v1,' with nothing after it",
            wire=_standard(signature=lambda ctx, i, t, b: "v1,"), detail="v1,<base64>"),
    Hostile("sw-signature-non-base64", SW, 401, SIGNATURE, "'v1,' followed by characters outside base64",
            wire=_standard(signature=lambda ctx, i, t, b: "v1,@@@not*base64!!!"), detail="v1,<base64>"),
    Hostile("sw-signature-unpadded-base64", SW, 401, SIGNATURE, "the right HMAC, base64 without its '=' padding",
            wire=_standard(signature=lambda ctx, i, t, b: standard_signature(ctx.secrets[TENANT], i, t, b).rstrip("="))),
    Hostile("sw-signature-v2-only", SW, 401, SIGNATURE, "the right HMAC labelled v2 (an unknown version)",
            wire=_standard(signature=lambda ctx, i, t, b: "v2" + standard_signature(ctx.secrets[TENANT], i, t, b)[2:]),
            detail="v1,<base64>"),
    Hostile("sw-signature-v1a-asymmetric", SW, 401, SIGNATURE, "'v1a,' (the spec's asymmetric scheme), no v1",
            wire=_standard(signature=lambda ctx, i, t, b: "v1a," + base64.b64encode(b"\x01" * 64).decode())),
    Hostile("sw-signature-equals-separator", SW, 401, SIGNATURE, "'v1=<base64>' instead of 'v1,<base64>'",
            wire=_standard(signature=lambda ctx, i, t, b: standard_signature(ctx.secrets[TENANT], i, t, b).replace(",", "=", 1))),
    Hostile("sw-signature-hex", SW, 401, SIGNATURE, "'v1,<hex>': the right HMAC in hex",
            wire=_standard(signature=lambda ctx, i, t, b: "v1," + base64.b64decode(
                standard_signature(ctx.secrets[TENANT], i, t, b)[3:]).hex())),
    Hostile("sw-signature-short", SW, 401, SIGNATURE, "'v1,AAAA': base64 of 3 bytes",
            wire=_standard(signature=lambda ctx, i, t, b: "v1,AAAA")),
    Hostile("sw-signature-1000-entries", SW, 401, SIGNATURE,
            "999 space-separated junk entries, then the right signature: only the first few are looked at",
            wire=_standard(signature=lambda ctx, i, t, b: " ".join(
                ["v1,AA=="] * 999 + [standard_signature(ctx.secrets[TENANT], i, t, b)]))),
    Hostile("sw-signature-guide-key", SW, 401, SIGNATURE,
            "HMAC keyed by the whole 'whsec_...' string (the guide's key), not its decoded base64",
            wire=_standard(signature=lambda ctx, i, t, b: "v1," + base64.b64encode(hmac.new(
                ctx.secrets[TENANT].encode(), f"{i}.{t}.".encode() + b, hashlib.sha256).digest()).decode())),
    Hostile("sw-signature-body-only", SW, 401, SIGNATURE, "the base64 HMAC of the body alone, without id and time",
            wire=_standard(signature=lambda ctx, i, t, b: "v1," + base64.b64encode(hmac.new(
                base64.b64decode(ctx.secrets[TENANT][6:]), b, hashlib.sha256).digest()).decode())),
    Hostile("sw-signed-other-body", SW, 401, SIGNATURE, "a valid signature of a different body",
            wire=_standard(signed_body=_SMALL + b" "), detail="webhook-signature"),
    Hostile("sw-signed-other-id", SW, 401, SIGNATURE, "signed for webhook-id msg_other, sent with another id",
            wire=_standard(signed_id="msg_other")),
    Hostile("sw-signed-other-timestamp", SW, 401, SIGNATURE,
            "signed for a minute earlier, sent with the current time (a replay with a fresh timestamp)",
            wire=_standard(signed_timestamp=_stale(-60))),
    Hostile("sw-id-and-timestamp-swapped", SW, 401, SIGNATURE,
            "webhook-id and webhook-timestamp exchanged after signing (id '<now>', timestamp '<id>')",
            wire=_standard(msg_id=lambda ctx: str(ctx.now()), signed_id=SW_ID,
                           signed_timestamp=lambda ctx: str(ctx.now()))),
    Hostile("sw-signed-by-bystander", SW, 401, SIGNATURE, "a valid signature under another tenant's secret",
            wire=_standard(signer=BYSTANDER)),
    Hostile("sw-unknown-tenant", SW, 401, SIGNATURE, "a valid signature under acme's secret, sent to 'nobody'",
            wire=_standard(path="/v1/webhooks/inbound/nobody")),
    Hostile("sw-malformed-tenant", SW, 401, SIGNATURE, "a valid signature sent to the tenant id '..'",
            wire=_standard(path="/v1/webhooks/inbound/%2E%2E")),
    Hostile("sw-bad-signature-beside-valid-guide-header", SW, 401, SIGNATURE,
            "a valid X-Autentikapp-Signature and a wrong webhook-signature: the webhook-* headers choose the scheme",
            wire=_standard(signature=lambda ctx, i, t, b: "v1," + base64.b64encode(b"\x00" * 32).decode(),
                           extra=lambda ctx: [("X-Autentikapp-Signature", ctx.sign(_SMALL))]), detail="webhook-signature"),
    Hostile("sw-stray-id-beside-valid-guide-header", SW, 401, SIGNATURE,
            "a valid X-Autentikapp-Signature and a lone webhook-id",
            wire=lambda ctx: build_request("POST", ctx.path, _signed_headers(ctx, _SMALL) + [("webhook-id", SW_ID)],
                                           _SMALL), detail=MISSING),
    Hostile("sw-stale-beside-valid-guide-header", SW, 401, SIGNATURE,
            "a valid X-Autentikapp-Signature and Standard Webhooks headers an hour old",
            wire=_standard(timestamp=_stale(-FAR), extra=lambda ctx: [("X-Autentikapp-Signature", ctx.sign(_SMALL))]),
            detail=CLOCK),
    Hostile("sw-signature-twice-both-valid", SW, 401, SIGNATURE,
            "the right webhook-signature twice: joined into one value with a comma",
            wire=_standard(extra=lambda ctx: [("webhook-signature", _valid_sw(ctx))])),
    Hostile("sw-signature-twice-wrong-first", SW, 401, SIGNATURE, "a wrong webhook-signature, then the right one",
            wire=_standard(signature=lambda ctx, i, t, b: "v1," + base64.b64encode(b"\x00" * 32).decode(),
                           extra=lambda ctx: [("webhook-signature", _valid_sw(ctx))])),
    Hostile("sw-id-twice", SW, 401, SIGNATURE, "webhook-id twice (the same value), signed over the one id",
            wire=_standard(extra=lambda ctx: [("webhook-id", SW_ID)])),
    Hostile("sw-timestamp-twice", SW, 401, SIGNATURE, "webhook-timestamp twice (the same value)",
            wire=_standard(extra=lambda ctx: [("webhook-timestamp", str(ctx.now()))]), detail="Unix seconds"),
    Hostile("sw-underscore-header-name", SW, 401, SIGNATURE,
            "webhook_signature: gunicorn drops headers with underscores, so it is missing",
            wire=_standard(drop=("webhook-signature",), extra=lambda ctx: [("webhook_signature", _valid_sw(ctx))]),
            detail="webhook-signature missing"),

    # -- a tenant that requires timestamped signatures: the guide's header is refused, saying so only to
    #    a sender that proved it holds the secret
    Hostile("strict-guide-signature-alone", "require-timestamped", 401, SIGNATURE,
            "the strict tenant's valid X-Autentikapp-Signature alone",
            wire=lambda ctx: build_request("POST", "/v1/webhooks/inbound/" + STRICT, [
                ("Content-Type", "application/json"),
                ("X-Autentikapp-Signature", _hmac(ctx.secrets[STRICT], _SMALL))], _SMALL),
            detail=TIMESTAMPED_REQUIRED),
    Hostile("strict-wrong-guide-signature", "require-timestamped", 401, SIGNATURE,
            "a wrong X-Autentikapp-Signature to the strict tenant: the generic answer, no hint of the requirement",
            wire=lambda ctx: build_request("POST", "/v1/webhooks/inbound/" + STRICT, [
                ("Content-Type", "application/json"), ("X-Autentikapp-Signature", ctx.sign(_SMALL))], _SMALL),
            detail="X-Autentikapp-Signature (hex HMAC-SHA256"),

    # -- Shopify: the base64 HMAC of the body under the tenant's Shopify secret, nothing else
    Hostile("shopify-missing-signature", SHOPIFY, 401, SIGNATURE, "no X-Shopify-Hmac-Sha256",
            wire=_platform(SHOPIFY, _shopify_order("shopify-missing-signature"), unsigned=True),
            detail="X-Shopify-Hmac-Sha256"),
    Hostile("shopify-garbage-signature", SHOPIFY, 401, SIGNATURE, "X-Shopify-Hmac-Sha256 that is not base64",
            wire=_platform(SHOPIFY, _shopify_order("shopify-garbage-signature"),
                           signature=lambda ctx, body: "not*base64!!")),
    Hostile("shopify-hex-signature", SHOPIFY, 401, SIGNATURE, "the right HMAC in hex instead of base64",
            wire=_platform(SHOPIFY, _shopify_order("shopify-hex-signature"),
                           signature=lambda ctx, body: hmac.new(ctx.secrets[SHOPIFY].encode(), body,
                                                                hashlib.sha256).hexdigest())),
    Hostile("shopify-8000-char-signature", SHOPIFY, 401, SIGNATURE, "an 8,000-character base64 signature",
            wire=_platform(SHOPIFY, _shopify_order("shopify-8000-char-signature"),
                           signature=lambda ctx, body: "A" * 8000)),
    Hostile("shopify-wrong-secret", SHOPIFY, 401, SIGNATURE, "signed with a secret that is not the tenant's",
            wire=_platform(SHOPIFY, _shopify_order("shopify-wrong-secret"),
                           signature=lambda ctx, body: platform_signature("shpss_" + "0" * 32, body))),
    Hostile("shopify-whsec-as-key", SHOPIFY, 401, SIGNATURE, "the tenant's own whsec_ secret used as the Shopify key",
            wire=_platform(SHOPIFY, _shopify_order("shopify-whsec-as-key"),
                           signature=lambda ctx, body: platform_signature(ctx.secrets[TENANT], body))),
    Hostile("shopify-woocommerce-secret", SHOPIFY, 401, SIGNATURE, "signed with the tenant's WooCommerce secret",
            wire=_platform(SHOPIFY, _shopify_order("shopify-woocommerce-secret"),
                           signature=_other_platform_secret(WOOCOMMERCE))),
    Hostile("shopify-other-body", SHOPIFY, 401, SIGNATURE, "the right secret, a different body",
            wire=_platform(SHOPIFY, _shopify_order("shopify-other-body"), signature=lambda ctx, body: platform_signature(
                ctx.secrets[SHOPIFY], body + b" "))),
    Hostile("shopify-woocommerce-header", SHOPIFY, 401, SIGNATURE,
            "a valid signature under the Shopify secret, sent in WooCommerce's header",
            wire=_platform(SHOPIFY, _shopify_order("shopify-woocommerce-header"), unsigned=True, extra=lambda ctx: [
                ("X-WC-Webhook-Signature", platform_signature(ctx.secrets[SHOPIFY], _shopify_order(
                    "shopify-woocommerce-header")))])),
    Hostile("shopify-guide-header", SHOPIFY, 401, SIGNATURE, "a valid X-Autentikapp-Signature on the Shopify endpoint",
            wire=_platform(SHOPIFY, _shopify_order("shopify-guide-header"), unsigned=True, extra=lambda ctx: [
                ("X-Autentikapp-Signature", ctx.sign(_shopify_order("shopify-guide-header")))])),
    Hostile("shopify-standard-webhooks-headers", SHOPIFY, 401, SIGNATURE,
            "valid Standard Webhooks headers on the Shopify endpoint",
            wire=_platform(SHOPIFY, _shopify_order("shopify-sw"), unsigned=True, extra=lambda ctx: [
                ("webhook-id", SW_ID), ("webhook-timestamp", str(ctx.now())),
                ("webhook-signature", standard_signature(ctx.secrets[TENANT], SW_ID, str(ctx.now()),
                                                         _shopify_order("shopify-sw")))])),
    Hostile("shopify-signature-twice", SHOPIFY, 401, SIGNATURE, "the right X-Shopify-Hmac-Sha256 twice (joined)",
            wire=_platform(SHOPIFY, _shopify_order("shopify-signature-twice"), extra=lambda ctx: [
                ("X-Shopify-Hmac-Sha256", platform_signature(ctx.secrets[SHOPIFY],
                                                              _shopify_order("shopify-signature-twice")))])),
    Hostile("shopify-unknown-tenant", SHOPIFY, 401, SIGNATURE, "signed with acme's Shopify secret, sent to 'nobody'",
            wire=_platform(SHOPIFY, _shopify_order("shopify-unknown-tenant"), tenant="nobody")),
    Hostile("shopify-tenant-without-shopify-secret", SHOPIFY, 401, SIGNATURE,
            "signed with acme's Shopify secret, sent to a tenant that has none",
            wire=_platform(SHOPIFY, _shopify_order("shopify-no-secret"), tenant=BYSTANDER)),
    Hostile("shopify-malformed-tenant", SHOPIFY, 401, SIGNATURE, "the tenant id '..'",
            wire=_platform(SHOPIFY, _shopify_order("shopify-malformed-tenant"), tenant="%2E%2E")),
    Hostile("shopify-not-json", SHOPIFY, 400, MALFORMED, "a correctly signed body that is not JSON",
            wire=_platform(SHOPIFY, b"order=1&paid=yes")),
    Hostile("shopify-text-plain", SHOPIFY, 415, MEDIA_TYPE, "a correctly signed order sent as text/plain",
            wire=_platform(SHOPIFY, _shopify_order("shopify-text-plain"), content_type="text/plain")),
    Hostile("shopify-10mb", SHOPIFY, 413, TOO_LARGE, "a 10 MB body, correctly signed",
            wire=_platform(SHOPIFY, b'{"id": 1, "note": "' + b"x" * TEN_MB + b'"}')),
    Hostile("shopify-one-byte-over-cap", SHOPIFY, 413, TOO_LARGE, "GATEWAY_MAX_BODY_BYTES + 1, unsigned",
            wire=_platform(SHOPIFY, b"{" + b" " * (MAX_BODY_BYTES - 1) + b"}", unsigned=True)),
    Hostile("shopify-topic-missing", SHOPIFY, 400, BAD_REQUEST, "a correctly signed order without X-Shopify-Topic",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-missing"), topic=None), detail="X-Shopify-Topic"),
    Hostile("shopify-topic-blank", SHOPIFY, 400, BAD_REQUEST, "X-Shopify-Topic of blanks",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-blank"), topic="   "), detail="X-Shopify-Topic"),
    Hostile("shopify-topic-8000-chars", SHOPIFY, 200, None, "an 8,000-character topic: not one that is read",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-8000-chars"), topic="orders/" + "c" * 7993),
            answer=IGNORED),
    Hostile("shopify-topic-control-chars", SHOPIFY, 400, SERVER, "a topic with \\x01 and an ANSI escape",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-control"), topic="orders/create\x01\x1b[2J")),
    Hostile("shopify-topic-tab-and-markup", SHOPIFY, 200, None, "a topic with a TAB, quotes and <script>",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-markup"),
                           topic='orders/create\t"}<script>alert(1)</script>'), answer=IGNORED),
    Hostile("shopify-topic-non-ascii", SHOPIFY, 200, None, "'orders/créate' as UTF-8 bytes",
            wire=_platform(SHOPIFY, _shopify_order("shopify-topic-non-ascii"),
                           topic="orders/créate".encode().decode("latin-1")), answer=IGNORED),
    Hostile("shopify-topic-crlf", SHOPIFY, 422, INVALID,
            "'orders/create\\r\\nX-Injected: 1': CR LF ends the topic; an empty order is not translatable",
            wire=_platform(SHOPIFY, b"{}", topic="orders/create\r\nX-Injected: 1")),
    Hostile("shopify-topic-bare-lf", SHOPIFY, 400, SERVER, "a bare LF inside X-Shopify-Topic",
            wire=_platform(SHOPIFY, b"{}", topic="orders/create\nX-Injected: 1")),

    # -- WooCommerce: the same, and its unsigned ping (answered 200 whatever the tenant, publishing nothing)
    Hostile("woo-missing-signature", WOOCOMMERCE, 401, SIGNATURE, "no X-WC-Webhook-Signature",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-missing-signature"), unsigned=True),
            detail="X-WC-Webhook-Signature"),
    Hostile("woo-garbage-signature", WOOCOMMERCE, 401, SIGNATURE, "X-WC-Webhook-Signature that is not base64",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-garbage-signature"), signature=lambda ctx, body: "%%%")),
    Hostile("woo-wrong-secret", WOOCOMMERCE, 401, SIGNATURE, "signed with a secret that is not the tenant's",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-wrong-secret"),
                           signature=lambda ctx, body: platform_signature("wc-" + "0" * 32, body))),
    Hostile("woo-whsec-as-key", WOOCOMMERCE, 401, SIGNATURE, "the tenant's whsec_ secret used as the WooCommerce key",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-whsec-as-key"),
                           signature=lambda ctx, body: platform_signature(ctx.secrets[TENANT], body))),
    Hostile("woo-shopify-secret", WOOCOMMERCE, 401, SIGNATURE, "signed with the tenant's Shopify secret",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-shopify-secret"), signature=_other_platform_secret(SHOPIFY))),
    Hostile("woo-shopify-header", WOOCOMMERCE, 401, SIGNATURE,
            "a valid signature under the WooCommerce secret, sent in Shopify's header",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-shopify-header"), unsigned=True, extra=lambda ctx: [
                ("X-Shopify-Hmac-Sha256", platform_signature(ctx.secrets[WOOCOMMERCE],
                                                              _woo_order("woo-shopify-header")))])),
    Hostile("woo-unknown-tenant", WOOCOMMERCE, 401, SIGNATURE, "signed with acme's WooCommerce secret, sent to 'nobody'",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-unknown-tenant"), tenant="nobody")),
    Hostile("woo-not-json", WOOCOMMERCE, 400, MALFORMED, "a correctly signed JSON-typed body that is not JSON",
            wire=_platform(WOOCOMMERCE, b"{'id': 1}")),
    Hostile("woo-form-signed-order", WOOCOMMERCE, 415, MEDIA_TYPE, "a correctly signed form body that is no ping",
            wire=_platform(WOOCOMMERCE, b"id=1&status=processing", content_type="application/x-www-form-urlencoded")),
    Hostile("woo-10mb", WOOCOMMERCE, 413, TOO_LARGE, "a 10 MB body, correctly signed",
            wire=_platform(WOOCOMMERCE, b'{"id": 1, "note": "' + b"x" * TEN_MB + b'"}')),
    Hostile("woo-topic-missing", WOOCOMMERCE, 400, BAD_REQUEST, "a correctly signed order without X-WC-Webhook-Topic",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-topic-missing"), topic=None), detail="X-WC-Webhook-Topic"),
    Hostile("woo-topic-8000-chars", WOOCOMMERCE, 200, None, "an 8,000-character topic",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-topic-8000-chars"), topic="order." + "c" * 7994),
            answer=IGNORED),
    Hostile("woo-topic-control-chars", WOOCOMMERCE, 400, SERVER, "a topic with \\x01 and an ANSI escape",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-topic-control"), topic="order.created\x01\x1b[2J")),
    Hostile("woo-topic-non-ascii", WOOCOMMERCE, 200, None, "'order.créated' as UTF-8 bytes",
            wire=_platform(WOOCOMMERCE, _woo_order("woo-topic-non-ascii"),
                           topic="order.créated".encode().decode("latin-1")), answer=IGNORED),
    Hostile("woo-ping", WOOCOMMERCE, 200, None, "WooCommerce's ping: webhook_id=<n>, form-encoded, unsigned",
            wire=_woo_ping(b"webhook_id=12"), answer=OK),
    Hostile("woo-ping-unknown-tenant", WOOCOMMERCE, 200, None, "the ping to a tenant that does not exist",
            wire=_woo_ping(b"webhook_id=12", tenant="nobody"), answer=OK),
    Hostile("woo-ping-without-content-type", WOOCOMMERCE, 200, None, "the ping without a Content-Type",
            wire=_woo_ping(b"webhook_id=12", content_type=None), answer=OK),
    Hostile("woo-ping-extra-field", WOOCOMMERCE, 401, SIGNATURE, "webhook_id=12&status=processing: not a ping",
            wire=_woo_ping(b"webhook_id=12&status=processing")),
    Hostile("woo-ping-two-ids", WOOCOMMERCE, 401, SIGNATURE, "webhook_id=12&webhook_id=13",
            wire=_woo_ping(b"webhook_id=12&webhook_id=13")),
    Hostile("woo-ping-not-a-number", WOOCOMMERCE, 401, SIGNATURE, "webhook_id=abc",
            wire=_woo_ping(b"webhook_id=abc")),
    Hostile("woo-ping-trailing-newline", WOOCOMMERCE, 401, SIGNATURE, "webhook_id=12 followed by a newline",
            wire=_woo_ping(b"webhook_id=12\n")),
    Hostile("woo-ping-as-text-plain", WOOCOMMERCE, 401, SIGNATURE, "the ping body declared text/plain",
            wire=_woo_ping(b"webhook_id=12", content_type="text/plain")),
    Hostile("woo-ping-as-json", WOOCOMMERCE, 401, SIGNATURE, "the ping body declared application/json",
            wire=_woo_ping(b"webhook_id=12", content_type="application/json")),
    Hostile("woo-ping-json-body", WOOCOMMERCE, 401, SIGNATURE, '{"webhook_id": 12} as JSON',
            wire=_woo_ping(b'{"webhook_id": 12}', content_type="application/json")),
    Hostile("woo-ping-order-in-form", WOOCOMMERCE, 401, SIGNATURE, "an order smuggled in a form after webhook_id",
            wire=_woo_ping(b"webhook_id=12&" + _woo_order("woo-ping-order-in-form"))),
    Hostile("woo-ping-over-cap", WOOCOMMERCE, 413, TOO_LARGE, "webhook_id= followed by more digits than the cap",
            wire=_woo_ping(b"webhook_id=" + b"1" * MAX_BODY_BYTES)),
]

CORPUS += SIGNATURE_SCHEMES
# Pairs that must get the very same answer (status and body): an unknown tenant, a tenant without the
# platform's secret, and a strict tenant's wrong signature say nothing a wrong signature does not.
SAME_ANSWER = [("sw-unknown-tenant", "sw-signed-by-bystander"), ("sw-malformed-tenant", "sw-signed-by-bystander"),
               ("shopify-unknown-tenant", "shopify-wrong-secret"),
               ("shopify-tenant-without-shopify-secret", "shopify-wrong-secret"),
               ("woo-unknown-tenant", "woo-wrong-secret"),
               ("strict-wrong-guide-signature", "sig-unknown-tenant"),
               ("strict-wrong-guide-signature", "sig-wrong-secret")]

BY_NAME = {entry.name: entry for entry in CORPUS}
assert len(BY_NAME) == len(CORPUS), "entry names must be unique"
ACCEPTED = [entry for entry in CORPUS if entry.status == 202]
assert all(entry.stored for entry in ACCEPTED) and not any(e.stored for e in CORPUS if e.status != 202)
