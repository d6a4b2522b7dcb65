"""The dashboard's users: a brand's people, each in one tenant with one role, and how they sign in.

Roles: `admin` (rotates and revokes secrets, replays dead letters, manages users) and `viewer` (reads).
Every change is written to the audit log in the same transaction (dashboard/audit.py). Sign-in costs
the same whether the account exists or not (a dummy Argon2 check) and is throttled by
dashboard/throttle.py. Users are never deleted, only disabled, so the audit log keeps naming them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool

from common import ids, normalize, timestamps
from common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from dashboard import audit, db
from dashboard.audit import Actor
from dashboard.passwords import Passwords, check_policy
from dashboard.settings import LoginLimits
from dashboard.throttle import ACCOUNT, LoginThrottle, Subject

ADMIN = "admin"
VIEWER = "viewer"
ROLES = (ADMIN, VIEWER)
Clock = Callable[[], datetime]
_COLUMNS = "id, tenant_id, email, role, created_at, disabled_at"


@dataclass(frozen=True)
class User:
    """A user as the app sees it (never the password hash)."""

    id: int
    tenant_id: str
    email: str
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: the user, or nothing and, when the account or address is locked,
    for how many seconds more."""

    user: User | None
    locked_for: float = 0.0


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}", "role")
    return role


class UserStore:
    """Users, sign-in and the audit log in the dashboard's database."""

    def __init__(self, pool: ConnectionPool, passwords: Passwords, limits: LoginLimits, clock: Clock = timestamps.now):
        self._pool = pool
        self._passwords = passwords
        self._throttle = LoginThrottle(limits)
        self._now = clock

    def ping(self, timeout: float = 2.0) -> bool:
        """True when the database answers a trivial query within `timeout` (for /readyz)."""
        try:
            with db.connection(self._pool, timeout) as conn:
                conn.execute("SELECT 1")
            return True
        except (Unavailable, psycopg.Error):
            return False

    def create_user(self, tenant_id: str, email: str, password: str, role: str, actor: Actor) -> User:
        """Create an active user; AlreadyExists when the tenant has one with that e-mail."""
        tenant_id = ids.tenant_id(tenant_id)
        email = normalize.email(email)
        if not email:
            raise InvalidArgument("email is required", "email")
        role = check_role(role)
        password_hash = self._passwords.hash(check_policy(password, email))
        now = self._now()
        try:
            with db.connection(self._pool) as conn, conn.transaction():
                row = conn.execute(
                    f"""INSERT INTO users (tenant_id, email, password_hash, role, created_at)
                        VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
                    (tenant_id, email, password_hash, role, now)).fetchone()
                audit.record(conn, tenant_id=tenant_id, actor=actor, action="user.created", at=now,
                             target=f"user:{row['id']}", details={"email": email, "role": role})
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"{email} already has an account in this tenant") from None
        return User(**row)

    def authenticate(self, tenant_id: str, email: str, password: str, address: str) -> SignIn:
        """Check a sign-in. A locked account or address is refused without looking at the password; an
        unknown account or a disabled user is refused after the same Argon2 work as a real one."""
        email = _loose_email(email)
        account, client = Subject.account(tenant_id, email), Subject.address(address)
        with db.connection(self._pool) as conn:
            locked = self._throttle.locked_for(conn, [account, client], self._now())
            if locked:
                return SignIn(None, locked)
            row = conn.execute(f"SELECT {_COLUMNS}, password_hash FROM users WHERE tenant_id = %s AND email = %s",
                               (tenant_id, email)).fetchone() if ids.is_tenant_id(tenant_id) else None
        stored_hash = row.pop("password_hash") if row else None
        matches = self._passwords.verify(stored_hash, password)  # no connection held for this
        user = User(**row) if row else None
        now = self._now()
        with db.connection(self._pool) as conn, conn.transaction():
            if matches and user is not None and user.active:
                self._throttle.succeeded(conn, account)
                if self._passwords.needs_rehash(stored_hash):
                    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s",
                                 (self._passwords.hash(password), user.id))
                audit.record(conn, tenant_id=user.tenant_id, actor=Actor.user(user.id, user.email),
                             action="user.signed_in", at=now, target=f"user:{user.id}")
                return SignIn(user)
            locked = self._count_failure(conn, account, client, user, now)
        return SignIn(None, self._retry_after(account, client)) if locked else SignIn(None)

    def authenticate_verified_email(self, tenant_id: str, email: str, address: str, method: str) -> SignIn:
        """Sign in the ACTIVE user of `tenant_id` whose e-mail an identity provider has verified
        (dashboard/oidc.py): never creates an account nor picks a role. Throttled and audited as a
        password sign-in is: a locked account or address is refused, and no such user counts as a failure
        of the account and of the address."""
        email = _loose_email(email)
        account, client = Subject.account(tenant_id, email), Subject.address(address)
        now = self._now()
        with db.connection(self._pool) as conn, conn.transaction():
            locked = self._throttle.locked_for(conn, [account, client], now)
            if locked:
                return SignIn(None, locked)
            row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND email = %s",
                               (tenant_id, email)).fetchone() if ids.is_tenant_id(tenant_id) and email else None
            user = User(**row) if row else None
            if user is not None and user.active:
                self._throttle.succeeded(conn, account)
                audit.record(conn, tenant_id=user.tenant_id, actor=Actor.user(user.id, user.email),
                             action="user.signed_in", at=now, target=f"user:{user.id}", details={"method": method})
                return SignIn(user)
            locked = self._count_failure(conn, account, client, user, now)
        return SignIn(None, self._retry_after(account, client)) if locked else SignIn(None)

    def count_failed_sign_in(self, address: str) -> float:
        """A sign-in refused before any account was known (a forged or replayed single sign-on answer):
        count it against the client address only. Returns the seconds the address is now locked for."""
        client = Subject.address(address)
        with db.connection(self._pool) as conn, conn.transaction():
            locked = self._throttle.failed(conn, client, self._now())
        return self._retry_after(client) if locked else 0.0

    def _count_failure(self, conn: psycopg.Connection, account: Subject, client: Subject, user: User | None,
                       now: datetime) -> bool:
        """Count a failed sign-in of `account` from `client` (inside a transaction), auditing a lock of a real
        user's account; True when either is locked now."""
        account_locked = self._throttle.failed(conn, account, now)
        address_locked = self._throttle.failed(conn, client, now)
        if account_locked and user is not None:
            audit.record(conn, tenant_id=user.tenant_id, actor=Actor.user(user.id, user.email),
                         action="user.locked", at=now, target=f"user:{user.id}",
                         details={"until": (now + self._throttle.lock_duration(ACCOUNT)).isoformat()})
        return account_locked or address_locked

    def _retry_after(self, *subjects: Subject) -> float:
        with db.connection(self._pool) as conn:
            return self._throttle.locked_for(conn, list(subjects), self._now())

    def get_user(self, tenant_id: str, user_id: int) -> User:
        """One user of the tenant; NotFound for another tenant's (it does not tell them apart)."""
        with db.connection(self._pool) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND id = %s",
                               (tenant_id, user_id)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id}")
        return User(**row)

    def set_password(self, tenant_id: str, email: str, password: str, actor: Actor) -> User:
        """Give an existing user a new password (the CLI's reset; `make run`'s development login), ending
        their sessions; NotFound when the tenant has no such user."""
        email = normalize.email(email)
        password_hash = self._passwords.hash(check_policy(password, email))
        now = self._now()
        with db.connection(self._pool) as conn, conn.transaction():
            row = conn.execute(f"""UPDATE users SET password_hash = %s WHERE tenant_id = %s AND email = %s
                                   RETURNING {_COLUMNS}""", (password_hash, tenant_id, email)).fetchone()
            if row is None:
                raise NotFound(f"no user {email} in tenant {tenant_id}")
            conn.execute("DELETE FROM sessions WHERE user_id = %s", (row["id"],))
            audit.record(conn, tenant_id=tenant_id, actor=actor, action="user.password_set", at=now,
                         target=f"user:{row['id']}", details={"email": email})
        return User(**row)

    def list_users(self, tenant_id: str) -> list[User]:
        """The tenant's users, disabled ones included, oldest first."""
        with db.connection(self._pool) as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s ORDER BY id",
                                (tenant_id,)).fetchall()
        return [User(**row) for row in rows]

    def disable_user(self, tenant_id: str, user_id: int, actor: Actor) -> User:
        """Disable a user of the tenant and end their sessions at once (idempotent). Nobody disables
        themselves, so a tenant cannot lock out its last admin by accident."""
        if actor.user_id == user_id:
            raise FailedPrecondition("you cannot disable your own account")
        now = self._now()
        with db.connection(self._pool) as conn, conn.transaction():
            row = conn.execute(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = %s AND id = %s FOR UPDATE",
                               (tenant_id, user_id)).fetchone()
            if row is None:
                raise NotFound(f"no user {user_id}")
            conn.execute("DELETE FROM sessions WHERE user_id = %s", (user_id,))
            if row["disabled_at"] is None:
                row["disabled_at"] = now
                conn.execute("UPDATE users SET disabled_at = %s WHERE id = %s", (now, user_id))
                audit.record(conn, tenant_id=tenant_id, actor=actor, action="user.disabled", at=now,
                             target=f"user:{user_id}", details={"email": row["email"]})
        return User(**row)

    def audit_entries(self, tenant_id: str, *, limit: int = 50, before_id: int | None = None) -> list[audit.AuditEntry]:
        """The tenant's audit log, newest first."""
        with db.connection(self._pool) as conn:
            return audit.entries(conn, tenant_id, limit=limit, before_id=before_id)

    def record(self, tenant_id: str, actor: Actor, action: str, target: str = "", details: dict | None = None) -> None:
        """Record a change made elsewhere (through the gateway's API) once it is done."""
        with db.connection(self._pool) as conn:
            audit.record(conn, tenant_id=tenant_id, actor=actor, action=action, at=self._now(), target=target,
                         details=details)


def _loose_email(value: str) -> str:
    """The e-mail as accounts store it when it is valid; otherwise as typed, folded (it matches nobody,
    and is still throttled as an account)."""
    try:
        return normalize.email(value)
    except InvalidArgument:
        return (value or "").strip().casefold()[:320]
