"""How tenant secrets are kept at rest: the only code that turns a secret into its stored form and back.

Stored form: `v1:<key id>:<base64 nonce>:<base64 ciphertext>`, AES-256-GCM under the key with that id
(gateway/encryption_keys.py, from GATEWAY_ENCRYPTION_KEYS), a random 96-bit nonce per sealing, and as
associated data the format version, the key id, the tenant id, the secret's row id and, for a store
platform's secret, the platform. So a stored value copied to another row or another tenant, relabelled
as another sender's, or altered in any way, does not unseal: it raises NotAuthentic instead of yielding
a wrong secret.

Rows written before encryption at rest hold the plain `whsec_…` secret. unseal() refuses them
(NotSealed): a plain value in the column would let anyone with write access to the database mint a
working secret. They are sealed by whatever applies the gateway's migrations (`python -m gateway`
at start, `python -m gateway migrate`) and by `autentikapp tenants secrets reseal`.

Secrets and key bytes never appear in logs, exception messages or reprs.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.encryption_keys import Keyring

SECRET_PREFIX = "whsec_"
# The sender of the secrets the guide's scheme and Standard Webhooks use; their associated data names no
# platform (as before platforms existed), every other sender's does.
WEBHOOK_SENDER = "autentikapp"
SECRET_BYTES = 32
FORMAT = "v1"
NONCE_BYTES = 12
_DOMAIN = "autentikapp.tenant-secret"


class UnsealError(Exception):
    """A stored secret cannot be read back. The message names the row and the key id, never a value."""


class NotSealed(UnsealError):
    """The row still holds a plain-text secret from before encryption at rest."""


class UnknownKey(UnsealError):
    """The row was sealed under a key id that GATEWAY_ENCRYPTION_KEYS no longer (or never) lists."""


class NotAuthentic(UnsealError):
    """Decryption failed: the value was altered, copied from another row, or the key's bytes changed."""


class Malformed(UnsealError):
    """The stored value is in no form this code writes."""


def generate() -> str:
    """A new secret: `whsec_` + base64 of 32 random bytes (256 bits)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def is_plain(stored: str) -> bool:
    """True for a row written before encryption at rest (a plain `whsec_…` secret)."""
    return stored.startswith(SECRET_PREFIX)


def key_id_of(stored: str) -> str | None:
    """The key id a sealed value names; None for a plain or unrecognised value."""
    parts = stored.split(":")
    return parts[1] if len(parts) == 4 and parts[0] == FORMAT else None


def needs_reseal(keyring: Keyring, stored: str) -> bool:
    """True unless the value is sealed under the keyring's primary (first) key."""
    return key_id_of(stored) != keyring.primary.key_id


def _associated_data(key_id: str, tenant_id: str, secret_id: int, platform: str) -> bytes:
    """What binds a ciphertext to its row: each part length-prefixed, so no two tuples encode alike."""
    out = bytearray()
    parts = (_DOMAIN, FORMAT, key_id, tenant_id, str(secret_id))
    for part in parts if platform == WEBHOOK_SENDER else (*parts, platform):
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def _b64(data: bytes) -> str:
    """Standard base64 text (no ':' in its alphabet, so it is safe between the form's separators)."""
    return base64.b64encode(data).decode("ascii")


def seal(keyring: Keyring, secret: str, *, tenant_id: str, secret_id: int, platform: str = WEBHOOK_SENDER) -> str:
    """The form written to tenant_secrets.secret for row `secret_id` of `tenant_id`, under the primary key."""
    key = keyring.primary
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key.material).encrypt(nonce, secret.encode("utf-8"),
                                              _associated_data(key.key_id, tenant_id, secret_id, platform))
    return f"{FORMAT}:{key.key_id}:{_b64(nonce)}:{_b64(ciphertext)}"


def unseal(keyring: Keyring, stored: str, *, tenant_id: str, secret_id: int, platform: str = WEBHOOK_SENDER) -> str:
    """The secret back from row `secret_id` of `tenant_id`; raise an UnsealError subclass saying why."""
    where = f"secret {secret_id} of tenant {tenant_id}"
    if is_plain(stored):
        raise NotSealed(f"{where} is stored in plain text; seal it with `autentikapp tenants secrets reseal` "
                        "(or `python -m gateway migrate`)")
    key_id = key_id_of(stored)
    if key_id is None:
        raise Malformed(f"{where} is not in the stored form {FORMAT}:<key id>:<nonce>:<ciphertext>")
    key = keyring.get(key_id)
    if key is None:
        raise UnknownKey(f"{where} is sealed under key {key_id!r}, which GATEWAY_ENCRYPTION_KEYS does not list "
                         f"(it lists {', '.join(keyring.key_ids)})")
    _, _, nonce_text, ciphertext_text = stored.split(":")
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
        ciphertext = base64.b64decode(ciphertext_text, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(f"{where} has a nonce or ciphertext that is not base64") from None
    if len(nonce) != NONCE_BYTES:
        raise Malformed(f"{where} has a nonce of {len(nonce)} bytes, not {NONCE_BYTES}")
    try:
        plain = AESGCM(key.material).decrypt(nonce, ciphertext, _associated_data(key_id, tenant_id, secret_id, platform))
    except InvalidTag:
        raise NotAuthentic(f"{where} does not decrypt under key {key_id!r}: the stored value was altered or "
                           "copied from another row, or that key id now holds different key bytes") from None
    return plain.decode("utf-8")
