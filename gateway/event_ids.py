"""Event ids: deterministic from (tenant_id, event_type, transaction_id).

A sender's retry of the same sale gets the same id; the id is the JetStream `Nats-Msg-Id`, so the
retry is stored once and answered `duplicate: true`.
"""

from __future__ import annotations

import hashlib

PREFIX = "evt_"
_DOMAIN = b"autentikapp.event-id.v1"


def _length_prefixed(*parts: str) -> bytes:
    """An unambiguous encoding: each part as 4-byte big-endian length + UTF-8 bytes ("a|b" != "a" "|b")."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def event_id(tenant_id: str, event_type: str, transaction_id: str) -> str:
    """`evt_` + 32 hex characters (128 bits) of SHA-256 over the length-prefixed triple."""
    digest = hashlib.sha256(_DOMAIN + _length_prefixed(tenant_id, event_type, transaction_id)).hexdigest()
    return PREFIX + digest[:32]
