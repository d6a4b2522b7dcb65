"""Webhook signatures: HMAC-SHA256 over the raw body bytes, keyed with the whole `whsec_…` secret.

The one place that computes them: the gateway verifies with `verify`, the CLI signs with `sign`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

HEADER = "X-Autentikapp-Signature"
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# Verified against when a tenant has no active secret, so an unknown tenant costs the same HMAC work
# as a known one and cannot be told apart by timing. It can never match: nobody signs with it.
_DECOY_SECRET = "whsec_decoy-never-issued"
# Why a signature was refused, for the operators' metrics only (the sender always gets the same 401).
FAILURE_REASONS = ("missing", "malformed", "unknown_tenant", "mismatch")


def sign(secret: str, body: bytes) -> str:
    """The signature a sender puts in X-Autentikapp-Signature: lower-case hex HMAC-SHA256 of `body`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secrets: Iterable[str], body: bytes, signature: str | None) -> bool:
    """True when `signature` (hex, either case) is the HMAC of the raw `body` under one of `secrets`.

    Every secret is tried (no early exit) and compared in constant time; several active secrets let a
    tenant rotate without downtime. No secret at all (an unknown tenant) is never a match.
    """
    candidates = list(secrets)
    given = (signature or "").strip()
    well_formed = bool(_HEX_SHA256.match(given))
    expected_input = given.lower() if well_formed else "0" * 64
    matched = False
    for secret in candidates or [_DECOY_SECRET]:
        matched |= hmac.compare_digest(sign(secret, body), expected_input)
    return well_formed and bool(candidates) and matched


def failure_reason(secrets: Iterable[str], signature: str | None) -> str:
    """Why `verify` refused (call it only then): no header, not 64 hex digits, a tenant without an
    active secret (unknown, or every secret revoked), or a signature no secret produces."""
    given = (signature or "").strip()
    if not given:
        return "missing"
    if not _HEX_SHA256.match(given):
        return "malformed"
    if not list(secrets):
        return "unknown_tenant"
    return "mismatch"
