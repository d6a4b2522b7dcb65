"""How tenant secrets are kept at rest: the only code that turns a secret into its stored form and back.

Today the stored form is the secret itself (plain text). Encryption at rest comes later and changes
only this module (plus a migration that re-seals existing rows); nothing else reads the column.
Secrets are never logged and never put into exception messages.
"""

from __future__ import annotations

import base64
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def generate() -> str:
    """A new secret: `whsec_` + base64 of 32 random bytes (256 bits)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def seal(secret: str) -> str:
    """The form written to tenant_secrets.secret (plain text for now)."""
    return secret


def unseal(stored: str) -> str:
    """The secret back from its stored form (plain text for now)."""
    return stored
