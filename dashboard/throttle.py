"""Sign-in throttling: account lockout and a per-address limit, kept in the dashboard's database so that
every worker and replica sees the same counts.

Both subjects work alike: `failures` counted from the first failure of a window; reaching the limit
locks the subject until the lock ends, when counting starts over. An account is a tenant and an e-mail
whether or not such a user exists, so that a lockout answers the same for both and does not tell which
accounts exist. A success clears its account's failures, never its address's (one valid account must
not reset the count of guesses made from that address against others). Subjects are stored as SHA-256.
Guesses already in flight when a lock starts still finish (the password check holds no database lock),
so a burst may get as many extra tries as it has requests in flight.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from dashboard.settings import LoginLimits

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Subject:
    """One throttled subject: its kind and the digest it is stored under."""

    kind: str
    digest: bytes

    @classmethod
    def account(cls, tenant_id: str, email: str) -> "Subject":
        return cls(ACCOUNT, hashlib.sha256(f"{ACCOUNT}\0{tenant_id}\0{email.casefold()}".encode()).digest())

    @classmethod
    def address(cls, address: str) -> "Subject":
        return cls(ADDRESS, hashlib.sha256(f"{ADDRESS}\0{address}".encode()).digest())


class LoginThrottle:
    """The limits of dashboard.settings.LoginLimits, applied on a connection at a given time."""

    def __init__(self, limits: LoginLimits):
        self._limits = limits

    def _rules(self, kind: str) -> tuple[int, timedelta, timedelta]:
        """(failures allowed, window the failures are counted in, how long a lock lasts) for `kind`."""
        if kind == ACCOUNT:
            span = timedelta(seconds=self._limits.lockout_seconds)
            return self._limits.account_failures, span, span
        span = timedelta(seconds=self._limits.ip_window_seconds)
        return self._limits.ip_failures, span, span

    def lock_duration(self, kind: str) -> timedelta:
        """How long a lock of a subject of `kind` lasts."""
        return self._rules(kind)[2]

    def locked_for(self, conn: psycopg.Connection, subjects: list[Subject], now: datetime) -> float:
        """Seconds until every one of `subjects` may try again; 0 when none is locked."""
        row = conn.execute(
            "SELECT max(locked_until) AS until FROM login_throttle WHERE subject_hash = ANY(%s) AND locked_until > %s",
            ([s.digest for s in subjects], now)).fetchone()
        until = row["until"] if row else None
        return (until - now).total_seconds() if until else 0.0

    def failed(self, conn: psycopg.Connection, subject: Subject, now: datetime) -> bool:
        """Count a failure of `subject` (call inside a transaction); True when it locked the subject now."""
        allowed, window, lock = self._rules(subject.kind)
        conn.execute(
            """INSERT INTO login_throttle (subject_hash, kind, failures, first_failure_at) VALUES (%s, %s, 0, %s)
               ON CONFLICT (subject_hash) DO NOTHING""", (subject.digest, subject.kind, now))
        row = conn.execute("SELECT failures, first_failure_at, locked_until FROM login_throttle "
                           "WHERE subject_hash = %s FOR UPDATE", (subject.digest,)).fetchone()
        failures, first, locked_until = row["failures"], row["first_failure_at"], row["locked_until"]
        if locked_until is not None and locked_until > now:
            return False  # already locked: nothing more to count
        if locked_until is not None or now - first >= window:
            failures, first, locked_until = 0, now, None  # a lock or a window has ended: start over
        failures += 1
        newly_locked = failures >= allowed
        if newly_locked:
            locked_until = now + lock
        conn.execute("UPDATE login_throttle SET failures = %s, first_failure_at = %s, locked_until = %s "
                     "WHERE subject_hash = %s", (failures, first, locked_until, subject.digest))
        self._prune(conn, now)
        return newly_locked

    def succeeded(self, conn: psycopg.Connection, account: Subject) -> None:
        """Forget the account's failures (its address's stay)."""
        conn.execute("DELETE FROM login_throttle WHERE subject_hash = %s", (account.digest,))

    def _prune(self, conn: psycopg.Connection, now: datetime) -> None:
        """Drop subjects whose window and lock are both over, so guessed e-mails do not pile up."""
        longest = timedelta(seconds=max(self._limits.lockout_seconds, self._limits.ip_window_seconds))
        conn.execute("DELETE FROM login_throttle WHERE first_failure_at < %s "
                     "AND (locked_until IS NULL OR locked_until < %s)",
                     (now - longest, now))
