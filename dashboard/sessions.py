"""Server-side sessions: the cookie carries a random token, the database keeps its SHA-256.

Nothing is signed, so there is no key to manage, and a copy of the table opens no session. A session
ends at `expires_at` (absolute lifetime), after `idle` without a request, when its user signs out, or
when its user is disabled. Each session has its own CSRF token, which every form carries
(dashboard/csrf.py). Role and tenant are read from the user's row on every request, so a change of
role or a disabled account takes effect at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from common import timestamps
from dashboard import audit, db
from dashboard.audit import Actor
from dashboard.users import Clock, User

TOKEN_BYTES = 32
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session
COOKIE = "autentikapp_dashboard"
SECURE_COOKIE = "__Host-" + COOKIE  # the browser keeps it only when Secure, Path=/ and without Domain


@dataclass(frozen=True)
class CookiePolicy:
    """The session cookie's name and attributes. `secure` is off only for `make run` over plain HTTP."""

    secure: bool

    @property
    def name(self) -> str:
        return SECURE_COOKIE if self.secure else COOKIE

    def attributes(self) -> dict:
        """Keyword arguments for Flask's set_cookie/delete_cookie: HttpOnly, SameSite=Lax (a link from
        elsewhere still arrives signed in; every change is a POST with a CSRF token), host-only, and no
        Max-Age: it lasts the browser session, and the server ends it sooner when it expires."""
        return {"httponly": True, "secure": self.secure, "samesite": "Lax", "path": "/"}


@dataclass(frozen=True)
class Session:
    """A live session and its user."""

    token_hash: bytes = field(repr=False)
    user: User
    csrf_token: str = field(repr=False)
    lang: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SessionStore:
    """Sessions in the dashboard's database."""

    def __init__(self, pool: ConnectionPool, *, lifetime_seconds: float, idle_seconds: float,
                 clock: Clock = timestamps.now):
        self._pool = pool
        self._lifetime = timedelta(seconds=lifetime_seconds)
        self._idle = timedelta(seconds=idle_seconds)
        self._now = clock

    def create(self, user: User, lang: str) -> tuple[str, Session]:
        """A new session for `user` (always a new token: signing in never reuses one, so a token planted
        before sign-in is worthless). Returns the token for the cookie, and the session. Expired
        sessions are swept here, so the table does not grow."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._now()
        session = Session(token_digest(token), user, secrets.token_urlsafe(TOKEN_BYTES), lang, now,
                          now + self._lifetime, now)
        with db.connection(self._pool) as conn, conn.transaction():
            conn.execute("DELETE FROM sessions WHERE expires_at <= %s OR last_seen_at <= %s",
                         (now, now - self._idle))
            conn.execute(
                """INSERT INTO sessions (token_hash, user_id, csrf_token, lang, created_at, expires_at, last_seen_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                (session.token_hash, user.id, session.csrf_token, lang, now, session.expires_at, now))
        return token, session

    def lookup(self, token: str | None) -> Session | None:
        """The live session of `token`, or None (unknown, expired, idle too long, user disabled)."""
        if not token or len(token) > 200:
            return None
        now = self._now()
        with db.connection(self._pool) as conn:
            row = conn.execute(
                """SELECT s.token_hash, s.csrf_token, s.lang, s.created_at, s.expires_at, s.last_seen_at,
                          u.id, u.tenant_id, u.email, u.role, u.created_at AS user_created_at, u.disabled_at
                   FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.token_hash = %s AND s.expires_at > %s AND s.last_seen_at > %s AND u.disabled_at IS NULL""",
                (token_digest(token), now, now - self._idle)).fetchone()
            if row is None:
                return None
            if now - row["last_seen_at"] >= TOUCH_EVERY:
                conn.execute("UPDATE sessions SET last_seen_at = %s WHERE token_hash = %s", (now, row["token_hash"]))
                row["last_seen_at"] = now
        user = User(row["id"], row["tenant_id"], row["email"], row["role"], row["user_created_at"], row["disabled_at"])
        return Session(row["token_hash"], user, row["csrf_token"], row["lang"], row["created_at"], row["expires_at"],
                       row["last_seen_at"])

    def set_lang(self, session: Session, lang: str) -> None:
        """Remember the session's language."""
        with db.connection(self._pool) as conn:
            conn.execute("UPDATE sessions SET lang = %s WHERE token_hash = %s", (lang, session.token_hash))

    def revoke(self, session: Session) -> None:
        """End the session (sign-out), recorded in the audit log."""
        now = self._now()
        with db.connection(self._pool) as conn, conn.transaction():
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", (session.token_hash,))
            audit.record(conn, tenant_id=session.user.tenant_id, actor=Actor.user(session.user.id, session.user.email),
                         action="user.signed_out", at=now, target=f"user:{session.user.id}")
