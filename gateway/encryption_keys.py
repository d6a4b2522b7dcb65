"""GATEWAY_ENCRYPTION_KEYS: the encryption keys that protect tenants' signing secrets at rest, parsed
and checked at start.

The setting is a comma-separated list of `KEY_ID:BASE64`, each BASE64 decoding to 32 random bytes
(an AES-256 key), e.g. `k2025b:<44 characters>,k2025a:<44 characters>`. The FIRST key seals every
new secret; every key is available to unseal, chosen by the key id the stored form carries. So a key
is rotated by putting a new one first, re-sealing (`autentikapp tenants secrets reseal`), then
dropping the old one.

A bad setting raises ConfigError naming the variable and the entry, never the key material: an entry
that is not a valid key id is not echoed at all (it may be a key pasted in the wrong place).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from common.config import ConfigError

log = logging.getLogger(__name__)

ENV_VAR = "GATEWAY_ENCRYPTION_KEYS"
# The setting's name until it was renamed (it read as if it held the tenants' secrets). Still read when
# ENV_VAR is unset, with a warning, so that a deployment keeps starting until its configuration is updated.
FORMER_ENV_VAR = "GATEWAY_SECRETS_KEYS"
KEY_BYTES = 32
KEY_ID_RULE = "1-32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
HOW_TO_MAKE_ONE = f'e.g. {ENV_VAR}="k1:$(openssl rand -base64 32)"'


@dataclass(frozen=True)
class SealingKey:
    """One AES-256 key and its id. The key bytes are hidden from repr and str."""

    key_id: str
    material: bytes = field(repr=False)


class Keyring:
    """The configured keys in order: the first seals, any of them unseals (looked up by key id)."""

    def __init__(self, keys: Iterable[SealingKey]):
        """Keep the keys in order; refuse an empty list, a duplicate id or a key that is not 32 bytes."""
        self._keys = tuple(keys)
        if not self._keys:
            raise ValueError("a keyring needs at least one key")
        self._by_id = {key.key_id: key for key in self._keys}
        if len(self._by_id) != len(self._keys):
            raise ValueError("key ids must be unique")
        if any(len(key.material) != KEY_BYTES for key in self._keys):
            raise ValueError(f"every key must be {KEY_BYTES} bytes")

    @property
    def primary(self) -> SealingKey:
        """The key new and re-sealed secrets are sealed under (the first one configured)."""
        return self._keys[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The configured key ids, in order (safe to print)."""
        return tuple(key.key_id for key in self._keys)

    def get(self, key_id: str) -> SealingKey | None:
        """The key with this id, or None when it is not configured (any more)."""
        return self._by_id.get(key_id)

    def __repr__(self) -> str:
        """Key ids only: a keyring may end up in a log line or a traceback."""
        return f"Keyring(key_ids={self.key_ids!r})"

    __str__ = __repr__


def _entry(position: int, text: str, name: str) -> SealingKey:
    """Parse one `KEY_ID:BASE64` entry; errors name the entry by position (and id when it is valid)."""
    key_id, sep, encoded = text.strip().partition(":")
    key_id = key_id.strip()
    if not sep:
        raise ConfigError(f"{name}: entry {position} is not KEY_ID:BASE64 ({HOW_TO_MAKE_ONE})")
    if not _KEY_ID.match(key_id):
        raise ConfigError(f"{name}: entry {position} has an invalid key id (the id must be {KEY_ID_RULE})")
    try:
        material = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name}: key {key_id!r} (entry {position}) is not valid base64") from None
    if len(material) != KEY_BYTES:
        raise ConfigError(f"{name}: key {key_id!r} (entry {position}) decodes to {len(material)} bytes; "
                          f"AES-256 needs exactly {KEY_BYTES} ({HOW_TO_MAKE_ONE})")
    return SealingKey(key_id, material)


def parse(text: str, name: str = ENV_VAR) -> Keyring:
    """Parse the whole setting into a Keyring; raise ConfigError naming `name` on any fault."""
    if not text.strip():
        raise ConfigError(f"{name}: required: the keys that encrypt tenant secrets at rest, as comma-separated "
                          f"KEY_ID:BASE64 of {KEY_BYTES} random bytes ({HOW_TO_MAKE_ONE})")
    keys: list[SealingKey] = []
    for position, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            raise ConfigError(f"{name}: entry {position} is empty (stray comma?)")
        key = _entry(position, entry, name)
        if any(k.key_id == key.key_id for k in keys):
            raise ConfigError(f"{name}: key id {key.key_id!r} appears twice")
        keys.append(key)
    return Keyring(keys)


def from_env() -> Keyring:
    """The keyring from GATEWAY_ENCRYPTION_KEYS (else its former name, with a warning); ConfigError when
    it is unset or malformed (no default: a key that ships with the code is no key at all)."""
    if not os.environ.get(ENV_VAR, "").strip() and os.environ.get(FORMER_ENV_VAR, "").strip():
        log.warning("%s is the former name of %s: rename it in your configuration", FORMER_ENV_VAR, ENV_VAR)
        return parse(os.environ[FORMER_ENV_VAR], FORMER_ENV_VAR)
    return parse(os.environ.get(ENV_VAR, ""))


def new_entry(key_id: str) -> str:
    """A fresh `KEY_ID:BASE64` entry with 32 random bytes (for local development and tests)."""
    if not _KEY_ID.match(key_id):
        raise ValueError(f"invalid key id (the id must be {KEY_ID_RULE})")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode('ascii')}"
