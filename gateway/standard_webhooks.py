"""Standard Webhooks signatures (standardwebhooks.com), the timestamped scheme beside the guide's.

A sender signs `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 keyed by the base64-decoded
part of the tenant's `whsec_…` secret (the same secret as the guide's scheme) and sends
`webhook-signature: v1,<base64>`, several space-separated while it rotates. The timestamp bounds a
replay: a captured request is refused once it is older than the tolerance (or as far in the future).
Within it, a replay repeats the same event and is answered as a duplicate of it.

The one place that computes them: the gateway verifies with `verify`, the CLI signs with `sign`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.secret_sealing import SECRET_PREFIX

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_ID_LENGTH = 256
# The spec's signatures are base64 of 32 bytes; a header holding more than a few is an attack, not a rotation.
MAX_SIGNATURES = 8
_ID = re.compile(r"^[\x21-\x7e]{1,%d}$" % MAX_ID_LENGTH)  # visible ASCII: safe in logs and headers
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_DECOY_KEY = b"\x00" * 32  # verified against for a tenant without a usable secret (same work, never sent)


@dataclass(frozen=True)
class Refusal:
    """Why a Standard Webhooks request is refused: `reason` for metrics, `detail` for the sender."""

    reason: str
    detail: str


def key_of(secret: str) -> bytes | None:
    """The HMAC key of a `whsec_…` secret: the base64-decoded part after the prefix; None when it is not
    base64 (a secret no sender could use with this scheme)."""
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    """The raw HMAC-SHA256 of `<id>.<timestamp>.<body>`."""
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt: `v1,<base64>`."""
    key = key_of(secret)
    if key is None:
        raise ValueError("the secret is not whsec_ followed by base64")
    return f"{VERSION}," + base64.b64encode(_signature(key, msg_id, str(timestamp), body)).decode("ascii")


def signed_headers(secret: str, body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    """The three headers of one attempt, as a sender sends them (ValueError for a secret that is not
    whsec_ followed by base64)."""
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, msg_id, timestamp, body)}


def _given_signatures(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a header (other versions and undecodable entries are left out)."""
    found: list[bytes] = []
    for entry in header.split(" ")[:MAX_SIGNATURES]:
        version, _, encoded = entry.partition(",")
        if version != VERSION or not encoded:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def check_headers(msg_id: str | None, timestamp: str | None, signature: str | None, now: float,
                  tolerance_seconds: int) -> Refusal | None:
    """What is wrong with the three headers themselves, before any secret is looked at: one missing, not
    in the spec's form, or a timestamp outside the tolerance (the clock of the sender is off, or the
    request is a replay). None when they are usable."""
    missing = [name for name, value in zip(HEADERS, (msg_id, timestamp, signature)) if not (value or "").strip()]
    if missing:
        return Refusal("missing", f"A Standard Webhooks signature needs the {', '.join(HEADERS)} headers; "
                                  f"{', '.join(missing)} missing.")
    if not is_visible_id(msg_id.strip()):
        return Refusal("malformed", f"webhook-id must be 1 to {MAX_ID_LENGTH} visible ASCII characters.")
    if not _TIMESTAMP.match(timestamp.strip()):
        return Refusal("malformed", "webhook-timestamp must be the time of this attempt in whole Unix seconds.")
    skew = int(timestamp.strip()) - now
    if abs(skew) > tolerance_seconds:
        direction = "behind" if skew < 0 else "ahead of"
        return Refusal("stale_timestamp",
                       f"webhook-timestamp is {abs(int(skew))} seconds {direction} the gateway's clock, more "
                       f"than the {tolerance_seconds} seconds allowed: check the sending server's clock (NTP) and "
                       "sign every attempt, retries included, with the current time.")
    if not _given_signatures(signature.strip()):
        return Refusal("malformed", "webhook-signature must hold one or more space-separated v1,<base64> "
                                    "signatures.")
    return None


def verify(secrets: Iterable[str], body: bytes, msg_id: str, timestamp: str, signature: str) -> bool:
    """True when one of the header's `v1` signatures is the HMAC of this id, timestamp and body under one
    of `secrets`. Call it only after check_headers passed. Every pair is compared in constant time with
    no early exit; no secret at all (an unknown tenant) costs the same work and never matches."""
    keys = [key for key in map(key_of, secrets) if key is not None]
    given = _given_signatures(signature.strip())
    matched = False
    for key in keys or [_DECOY_KEY]:
        expected = _signature(key, msg_id.strip(), timestamp.strip(), body)
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    return bool(keys) and matched


def is_visible_id(value: str) -> bool:
    """True for 1 to MAX_ID_LENGTH visible ASCII characters, the form a webhook-id must have."""
    return bool(_ID.match(value))


def is_used(headers) -> bool:
    """True when a request carries any of the scheme's headers: it is then verified by this scheme alone."""
    return any(headers.get(name) is not None for name in HEADERS)
