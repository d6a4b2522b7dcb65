"""Signatures over the raw body alone: HMAC-SHA256 keyed with the whole secret string.

The guide's scheme sends it as hex in X-Autentikapp-Signature, keyed with the `whsec_…` secret; Shopify
and WooCommerce send the same HMAC in base64, keyed with their own secret. The one place that computes
them: the gateway verifies with `verify` / `verify_base64`, the CLI signs with `sign` / `sign_base64`.
(Standard Webhooks also signs an id and a timestamp: gateway/standard_webhooks.py.)
"""

from __future__ import annotations

import base64
import binascii
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
FAILURE_REASONS = ("missing", "malformed", "unknown_tenant", "mismatch", "stale_timestamp", "timestamp_required")


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


def sign_base64(secret: str, body: bytes) -> str:
    """The signature Shopify and WooCommerce send: base64 of the HMAC-SHA256 of `body`."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _decoded_base64(signature: str | None) -> bytes | None:
    """The 32 bytes a base64 signature holds; None when it is not base64 of 32 bytes."""
    try:
        raw = base64.b64decode((signature or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == hashlib.sha256().digest_size else None


def verify_base64(secrets: Iterable[str], body: bytes, signature: str | None) -> bool:
    """True when `signature` is the base64 HMAC of `body` under one of `secrets`; like `verify`, every
    secret is tried in constant time and no secret is never a match."""
    candidates = list(secrets)
    given = _decoded_base64(signature)
    expected_input = given if given is not None else b"\0" * hashlib.sha256().digest_size
    matched = False
    for secret in candidates or [_DECOY_SECRET]:
        matched |= hmac.compare_digest(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest(), expected_input)
    return given is not None and bool(candidates) and matched


def failure_reason_base64(secrets: Iterable[str], signature: str | None) -> str:
    """Why `verify_base64` refused (call it only then), with the reasons of `failure_reason`."""
    if not (signature or "").strip():
        return "missing"
    if _decoded_base64(signature) is None:
        return "malformed"
    return "unknown_tenant" if not list(secrets) else "mismatch"


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
