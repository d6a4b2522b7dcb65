"""Password hashing (Argon2id, argon2-cffi) and the password policy.

Parameters: RFC 9106's second recommended option ("low memory": t=3, m=64 MiB, p=4), argon2-cffi's
`profiles.RFC_9106_LOW_MEMORY`; a dashboard worker hashes only at sign-in, so 64 MiB for a few tens of
milliseconds is affordable, and a stolen table costs an attacker the same per guess. A stored hash made
with other parameters is re-hashed at the next successful sign-in (`needs_rehash`). Tests inject a
cheaper profile for speed; nothing else should.
"""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from common.errors import InvalidArgument

PRODUCTION_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
MIN_LENGTH = 12
MAX_LENGTH = 1024  # a longer "password" is a way to make us hash megabytes, not a password


class Passwords:
    """Hash, verify and check passwords with one set of Argon2id parameters."""

    def __init__(self, parameters=PRODUCTION_PARAMETERS):
        self._hasher = PasswordHasher.from_parameters(parameters)
        # Verified against when the account does not exist, so that answering takes as long either way.
        self._dummy_hash = self._hasher.hash("not-a-password: only spends the time a real check does")

    def hash(self, password: str) -> str:
        """The PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash) of `password`, with a fresh salt."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches `stored_hash`; None (no such account) is checked against a dummy
        hash and is always False, after the same work. A malformed stored hash is False, not an error."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when `stored_hash` was made with other parameters than these (then hash again at sign-in)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


def check_policy(password: str, email: str) -> str:
    """`password` when it may be used by the account `email`: MIN_LENGTH to MAX_LENGTH characters, not
    the e-mail address nor its local part. The messages never repeat the password."""
    if len(password) < MIN_LENGTH:
        raise InvalidArgument(f"the password must have at least {MIN_LENGTH} characters", "password")
    if len(password) > MAX_LENGTH:
        raise InvalidArgument(f"the password must have at most {MAX_LENGTH} characters", "password")
    folded = password.strip().casefold()
    if folded in {email.casefold(), email.partition("@")[0].casefold()}:
        raise InvalidArgument("the password must not be the e-mail address", "password")
    return password
