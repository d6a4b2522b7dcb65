"""Error answers as RFC 9457 problem details (`application/problem+json`).

One catalogue of problem types: each has a stable `code`, a `type` URI built from it, an HTTP status
and a title. Details never carry a stack trace, a secret, the signature or the body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://docs.autentik.app/problems/"


@dataclass(frozen=True)
class ProblemType:
    """One kind of error a client can see."""

    code: str
    status: int
    title: str

    @property
    def type_uri(self) -> str:
        """The `type` member: a URI naming the problem, documented at that address."""
        return TYPE_BASE + self.code


BAD_REQUEST = ProblemType("bad-request", 400, "Bad request")
MALFORMED_JSON = ProblemType("malformed-json", 400, "Malformed JSON")
INVALID_SIGNATURE = ProblemType("invalid-signature", 401, "Invalid signature")
NOT_FOUND = ProblemType("not-found", 404, "Not found")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
TRANSACTION_CONFLICT = ProblemType("transaction-conflict", 409, "Transaction conflict")
PAYLOAD_TOO_LARGE = ProblemType("payload-too-large", 413, "Payload too large")
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", 415, "Unsupported media type")
INVALID_PAYLOAD = ProblemType("invalid-payload", 422, "Invalid payload")
TOO_MANY_REQUESTS = ProblemType("too-many-requests", 429, "Too many requests")
INTERNAL_ERROR = ProblemType("internal-error", 500, "Internal error")
UNAVAILABLE = ProblemType("temporarily-unavailable", 503, "Temporarily unavailable")
NOT_READY = ProblemType("not-ready", 503, "Not ready")

CATALOGUE = (
    BAD_REQUEST, MALFORMED_JSON, INVALID_SIGNATURE, NOT_FOUND, METHOD_NOT_ALLOWED, TRANSACTION_CONFLICT,
    PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, INVALID_PAYLOAD, TOO_MANY_REQUESTS, INTERNAL_ERROR, UNAVAILABLE,
    NOT_READY,
)


class Problem(Exception):
    """Raised by views; the app's error handler turns it into the problem+json response."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        *,
        errors: Iterable[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        cause: str | None = None,
    ):
        """`errors` is the 422 field list; `headers` e.g. Retry-After; `extra` more members (RFC 9457 extensions);
        `cause` why, in one word (a 401's reason: missing, mismatch, ...), never sent: only the tenant's own
        record of its refused requests says it (gateway/refusals.py)."""
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        self.cause = cause

    def to_response(self) -> Response:
        """The HTTP response for this problem."""
        body: dict[str, Any] = {
            "type": self.kind.type_uri,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
            "code": self.kind.code,
            **self.extra,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        response = Response(json.dumps(body, ensure_ascii=False), status=self.kind.status, mimetype=MEDIA_TYPE)
        response.headers.update(self.headers)
        return response
