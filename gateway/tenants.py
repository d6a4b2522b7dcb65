"""The tenants repository: tenants (brands), their senders' secrets and settings (gateway/senders.py)
and their buyer rules (gateway/buyer_rules.py), on a sync psycopg pool.

The gateway owns these tables; the CLI (`autentikapp tenants`) is their admin tool and uses this module
too. Secrets go through gateway.secret_sealing on their way in and out (sealed with the keyring from
GATEWAY_ENCRYPTION_KEYS, bound to their row), and never appear in a log line, an exception message or a
repr.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from common import db, ids, normalize
from common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from gateway import buyer_rules, secret_sealing
from gateway.buyer_rules import BuyerRules
from gateway.encryption_keys import Keyring
from gateway.platforms import PlatformSettings
from gateway.senders import PLATFORMS, WEBHOOK, TenantSenders, check_key_name, check_platform_secret, check_sender

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
MAX_NAME = 200
GENERATED_ID_PREFIX = "tn_"


@dataclass(frozen=True)
class Tenant:
    """A brand with an account; `active_secrets` counts its unrevoked `whsec_` secrets (its platforms'
    are listed with list_secrets)."""

    id: str
    name: str
    created_at: datetime
    active_secrets: int


@dataclass(frozen=True)
class SecretInfo:
    """A secret's metadata (never its value)."""

    id: int
    tenant_id: str
    created_at: datetime
    revoked_at: datetime | None
    platform: str = WEBHOOK  # the sender it is for (gateway/senders.py)

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class NewSecret:
    """A secret just issued: the only time its value leaves the store. Hidden from repr."""

    id: int
    tenant_id: str
    created_at: datetime
    secret: str = field(repr=False)
    platform: str = WEBHOOK


@dataclass(frozen=True)
class ResealReport:
    """What a reseal did: rows now sealed under `key_id`, rows that already were, and rows it could not
    read (one message each, naming the row and the key id, never a value)."""

    key_id: str
    resealed: int
    unchanged: int
    failed: tuple[str, ...]


class SecretsUnreadable(Unavailable):
    """An active secret of the tenant cannot be unsealed (a key missing from GATEWAY_ENCRYPTION_KEYS, a
    plain-text row not yet sealed, or a tampered row). Retryable for the sender (503): an operator fixes
    the configuration; a 401 would make senders give up on the sale."""


def new_tenant_id() -> str:
    """A generated tenant id, valid for common.ids.tenant_id (URL- and subject-safe)."""
    return GENERATED_ID_PREFIX + secrets.token_hex(8)


def open_pool(url: str, *, min_size: int = 1, max_size: int = 4, timeout: float = 10.0) -> ConnectionPool:
    """Open the tenants' pool and wait for its first connections, so a bad database fails at start."""
    return db.open_sync_pool(url, "gateway-tenants", min_size=min_size, max_size=max_size, timeout=timeout)


class TenantStore:
    """Tenants and secrets in the gateway's database."""

    def __init__(self, pool: ConnectionPool, keyring: Keyring):
        """Use an opened pool (see open_pool), closed in close(); secrets are sealed with `keyring`."""
        self._pool = pool
        self._keyring = keyring

    @classmethod
    def open(cls, url: str, *, keyring: Keyring, min_size: int = 1, max_size: int = 4,
             timeout: float = 10.0) -> "TenantStore":
        """A store on a newly opened pool."""
        return cls(open_pool(url, min_size=min_size, max_size=max_size, timeout=timeout), keyring)

    def close(self) -> None:
        """Close the pool (idempotent)."""
        self._pool.close()

    @property
    def pool(self) -> ConnectionPool:
        """The store's pool, shared with the worker's record of refused requests (gateway/refusals.py)."""
        return self._pool

    def _connection(self, timeout: float | None = None) -> contextlib.AbstractContextManager[psycopg.Connection]:
        """A pooled connection; a database that is down or saturated becomes Unavailable (retryable)."""
        return db.sync_connection(self._pool, "the tenants database", timeout)

    def ping(self, timeout: float = 2.0) -> bool:
        """True when the database answers a trivial query within `timeout` (for /readyz)."""
        try:
            with self._connection(timeout) as conn:
                conn.execute("SELECT 1")
            return True
        except (Unavailable, psycopg.Error):
            return False

    def create_tenant(self, name: str, tenant_id: str | None = None) -> tuple[Tenant, NewSecret]:
        """Create a tenant (id generated when not given) with its first secret, in one transaction."""
        clean_name = normalize.text(name, "name", MAX_NAME)
        if not clean_name:
            raise InvalidArgument("name is required", "name")
        tenant_id = ids.tenant_id(tenant_id) if tenant_id is not None else new_tenant_id()
        try:
            with self._connection() as conn, conn.transaction():
                row = conn.execute(
                    "INSERT INTO tenants (id, name) VALUES (%s, %s) RETURNING id, name, created_at",
                    (tenant_id, clean_name),
                ).fetchone()
                secret = self._insert_secret(conn, tenant_id)
        except psycopg.errors.UniqueViolation:
            raise AlreadyExists(f"tenant {tenant_id} already exists") from None
        return Tenant(row["id"], row["name"], row["created_at"], active_secrets=1), secret

    def add_secret(self, tenant_id: str, platform: str = WEBHOOK, value: str | None = None) -> NewSecret:
        """One more active secret for one of the tenant's senders (rotation: add, switch the sender, revoke
        the old). A `whsec_` secret is always generated; a platform's is the one the platform issued
        (`value`: Shopify's app secret, or what the brand typed into WooCommerce), generated when not given."""
        platform = check_sender(platform)
        if value is not None and platform == WEBHOOK:
            raise InvalidArgument("whsec_ secrets are generated, never chosen", "secret")
        if value is not None:
            value = check_platform_secret(value)
        with self._connection() as conn:
            if not self._exists(conn, tenant_id):
                raise NotFound(f"tenant {tenant_id} not found")
            return self._insert_secret(conn, tenant_id, platform, value)

    def revoke_secret(self, tenant_id: str, secret_id: int, *, keep_one_active: bool = False) -> SecretInfo:
        """Revoke one secret (idempotent: revoking a revoked secret keeps its first revocation time).

        Gateways stop accepting it within GATEWAY_SECRET_CACHE_SECONDS. With `keep_one_active` (the
        dashboard) the last active secret of a sender is refused with FailedPrecondition, decided under a
        lock on the tenant's row so that two revocations at once cannot both pass.
        """
        with self._connection() as conn, conn.transaction():
            if keep_one_active:
                self._refuse_last_active(conn, tenant_id, secret_id)
            row = conn.execute(
                """UPDATE tenant_secrets SET revoked_at = coalesce(revoked_at, now())
                   WHERE tenant_id = %s AND id = %s
                   RETURNING id, tenant_id, created_at, revoked_at, platform""",
                (tenant_id, secret_id),
            ).fetchone()
            if row is None:
                if not self._exists(conn, tenant_id):
                    raise NotFound(f"tenant {tenant_id} not found")
                raise NotFound(f"tenant {tenant_id} has no secret {secret_id}")
        return SecretInfo(**row)

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, oldest first, with its count of active secrets."""
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT t.id, t.name, t.created_at,
                          count(s.id) FILTER (WHERE s.revoked_at IS NULL AND s.platform = 'autentikapp') AS active_secrets
                   FROM tenants t LEFT JOIN tenant_secrets s ON s.tenant_id = t.id
                   GROUP BY t.id ORDER BY t.created_at, t.id"""
            ).fetchall()
        return [Tenant(**row) for row in rows]

    def get_tenant(self, tenant_id: str) -> Tenant:
        """One tenant with its count of active secrets (NotFound when there is none)."""
        with self._connection() as conn:
            row = conn.execute(
                """SELECT t.id, t.name, t.created_at,
                          count(s.id) FILTER (WHERE s.revoked_at IS NULL AND s.platform = 'autentikapp') AS active_secrets
                   FROM tenants t LEFT JOIN tenant_secrets s ON s.tenant_id = t.id
                   WHERE t.id = %s GROUP BY t.id""",
                (tenant_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return Tenant(**row)

    def list_secrets(self, tenant_id: str) -> list[SecretInfo]:
        """The tenant's secrets' metadata, oldest first (values are never returned here)."""
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT id, tenant_id, created_at, revoked_at, platform FROM tenant_secrets
                   WHERE tenant_id = %s ORDER BY id""",
                (tenant_id,),
            ).fetchall()
        return [SecretInfo(**row) for row in rows]

    def active_secrets(self, tenant_id: str, platform: str = WEBHOOK) -> list[str]:
        """The values of the active secrets of one of the tenant's senders; empty for an unknown tenant."""
        return list(self.senders(tenant_id).secrets_of(platform))

    def senders(self, tenant_id: str, *, with_secrets: bool = True) -> TenantSenders:
        """Everything the gateway checks a tenant's requests against, in one read: its active secrets by
        sender, whether it requires timestamped signatures, its platforms' settings. Empty for an unknown
        tenant (the caller cannot tell). `with_secrets=False` leaves the secrets out (nothing is unsealed:
        what an admin tool shows works even while a key is missing).

        A row that cannot be unsealed raises SecretsUnreadable (logged as an error) rather than being
        skipped: a sender whose secret silently stopped working would be refused with 401 and give up.
        """
        with self._connection() as conn:
            rows = conn.execute(
                """SELECT id, secret, platform FROM tenant_secrets
                   WHERE tenant_id = %s AND revoked_at IS NULL ORDER BY id""",
                (tenant_id,),
            ).fetchall() if with_secrets else []
            tenant = conn.execute("SELECT require_timestamped_signatures FROM tenants WHERE id = %s",
                                  (tenant_id,)).fetchone()
            platforms = conn.execute(
                "SELECT platform, code_key, national_id_key FROM tenant_platforms WHERE tenant_id = %s",
                (tenant_id,)).fetchall()
        by_sender: dict[str, list[str]] = {}
        try:
            for row in rows:
                by_sender.setdefault(row["platform"], []).append(secret_sealing.unseal(
                    self._keyring, row["secret"], tenant_id=tenant_id, secret_id=row["id"], platform=row["platform"]))
        except secret_sealing.UnsealError as exc:
            log.error("cannot unseal a secret: %s", exc, extra={"tenant_id": tenant_id})
            raise SecretsUnreadable(f"a secret of tenant {tenant_id} cannot be unsealed ({type(exc).__name__})") from None
        return TenantSenders(
            secrets={sender: tuple(values) for sender, values in by_sender.items()},
            require_timestamped=bool(tenant and tenant["require_timestamped_signatures"]),
            platforms={row["platform"]: PlatformSettings(row["code_key"], row["national_id_key"]) for row in platforms},
        )

    def set_require_timestamped(self, tenant_id: str, required: bool) -> TenantSenders:
        """Require (or stop requiring) timestamped Standard Webhooks signatures on the tenant's endpoint;
        gateways apply it within GATEWAY_SECRET_CACHE_SECONDS."""
        with self._connection() as conn:
            updated = conn.execute("UPDATE tenants SET require_timestamped_signatures = %s WHERE id = %s",
                                   (required, tenant_id))
            if updated.rowcount == 0:
                raise NotFound(f"tenant {tenant_id} not found")
        return self.senders(tenant_id)

    def set_platform_keys(self, tenant_id: str, platform: str, *, code_key: str | None = None,
                          national_id_key: str | None = None) -> PlatformSettings:
        """Set where the tenant's store on `platform` keeps the codes (a line-item property or meta key)
        and the buyer's national id (an order note attribute or meta key); what is not given stays."""
        if platform not in PLATFORMS:
            raise InvalidArgument(f"platform must be one of {', '.join(PLATFORMS)}", "platform")
        code_key = check_key_name(code_key, "code_key") if code_key is not None else None
        national_id_key = check_key_name(national_id_key, "national_id_key") if national_id_key is not None else None
        defaults = PlatformSettings()
        with self._connection() as conn:
            if not self._exists(conn, tenant_id):
                raise NotFound(f"tenant {tenant_id} not found")
            row = conn.execute(  # in one statement: a key not given keeps its stored value (or the default)
                """INSERT INTO tenant_platforms (tenant_id, platform, code_key, national_id_key)
                   VALUES (%(tenant)s, %(platform)s, coalesce(%(code)s, %(default_code)s),
                           coalesce(%(national)s, %(default_national)s))
                   ON CONFLICT (tenant_id, platform) DO UPDATE
                   SET code_key = coalesce(%(code)s, tenant_platforms.code_key),
                       national_id_key = coalesce(%(national)s, tenant_platforms.national_id_key), updated_at = now()
                   RETURNING code_key, national_id_key""",
                {"tenant": tenant_id, "platform": platform, "code": code_key, "national": national_id_key,
                 "default_code": defaults.code_key, "default_national": defaults.national_id_key}).fetchone()
        return PlatformSettings(row["code_key"], row["national_id_key"])

    def reseal(self, *, only_plain: bool = False, batch: int = 500) -> ResealReport:
        """Seal every stored secret under the primary key: rows under an older key and plain-text rows
        (or, with `only_plain`, just the plain-text rows, as the gateway does at start). Revoked rows
        too, so that the old key can then be dropped. A row is rewritten only if it is unchanged since
        it was read, so concurrent reseals are harmless; a row that cannot be read is reported and the
        others are still done."""
        resealed = unchanged = 0
        failed: list[str] = []
        last_id = 0
        while True:
            with self._connection() as conn:
                rows = conn.execute(
                    """SELECT id, tenant_id, secret, platform FROM tenant_secrets
                       WHERE id > %s AND (NOT %s OR starts_with(secret, %s)) ORDER BY id LIMIT %s""",
                    (last_id, only_plain, secret_sealing.SECRET_PREFIX, batch),
                ).fetchall()
                for row in rows:
                    last_id = row["id"]
                    try:
                        if self._reseal_row(conn, row["id"], row["tenant_id"], row["secret"], row["platform"]):
                            resealed += 1
                        else:
                            unchanged += 1
                    except secret_sealing.UnsealError as exc:
                        failed.append(str(exc))
            if len(rows) < batch:
                return ResealReport(self._keyring.primary.key_id, resealed, unchanged, tuple(failed))

    def _reseal_row(self, conn: psycopg.Connection, secret_id: int, tenant_id: str, stored: str, platform: str) -> bool:
        """Reseal one row under the primary key; False when it already was (or a concurrent reseal just
        did it). Raises UnsealError when the row cannot be read."""
        if not secret_sealing.needs_reseal(self._keyring, stored):
            return False
        where = {"tenant_id": tenant_id, "secret_id": secret_id, "platform": platform}
        secret = stored if secret_sealing.is_plain(stored) else secret_sealing.unseal(self._keyring, stored, **where)
        updated = conn.execute(
            "UPDATE tenant_secrets SET secret = %s WHERE id = %s AND secret = %s",
            (secret_sealing.seal(self._keyring, secret, **where), secret_id, stored),
        )
        return updated.rowcount == 1

    def buyer_rules(self, tenant_id: str) -> BuyerRules:
        """The tenant's rules about its buyers' identity (empty ones for an unknown tenant)."""
        with self._connection() as conn:
            country = conn.execute("SELECT default_country FROM tenants WHERE id = %s", (tenant_id,)).fetchone()
            rows = conn.execute(
                "SELECT field, value FROM tenant_unidentifying_values WHERE tenant_id = %s ORDER BY field, value",
                (tenant_id,),
            ).fetchall()
        by_field: dict[str, list[str]] = {field: [] for field in buyer_rules.FIELDS}
        for row in rows:
            by_field[row["field"]].append(row["value"])
        return BuyerRules((country or {}).get("default_country") or "", tuple(by_field["national_id"]),
                          tuple(by_field["email"]), tuple(by_field["phone_number"]))

    def set_default_country(self, tenant_id: str, country: str) -> BuyerRules:
        """Set (or with "" clear) the country of the tenant's phone numbers sent without a country code.
        Gateways apply it within GATEWAY_SECRET_CACHE_SECONDS."""
        country = normalize.country(country, "country")
        with self._connection() as conn:
            updated = conn.execute("UPDATE tenants SET default_country = %s WHERE id = %s",
                                   (country or None, tenant_id))
            if updated.rowcount == 0:
                raise NotFound(f"tenant {tenant_id} not found")
        return self.buyer_rules(tenant_id)

    def add_unidentifying_value(self, tenant_id: str, field: str, value: str) -> BuyerRules:
        """Declare that `value` of `field` identifies nobody for this tenant (idempotent); at most
        buyer_rules.MAX_VALUES_PER_FIELD per field."""
        rules = self.buyer_rules(tenant_id)
        normalised = buyer_rules.normalised_value(field, value, rules.default_country)
        with self._connection() as conn, conn.transaction():
            if not self._exists(conn, tenant_id):
                raise NotFound(f"tenant {tenant_id} not found")
            conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant_id,))  # one writer at a time
            count = conn.execute(
                "SELECT count(*) AS n FROM tenant_unidentifying_values WHERE tenant_id = %s AND field = %s",
                (tenant_id, field)).fetchone()["n"]
            inserted = conn.execute(
                """INSERT INTO tenant_unidentifying_values (tenant_id, field, value) VALUES (%s, %s, %s)
                   ON CONFLICT DO NOTHING""", (tenant_id, field, normalised))
            if inserted.rowcount and count >= buyer_rules.MAX_VALUES_PER_FIELD:
                raise InvalidArgument(f"tenant {tenant_id} already has {count} {field} values (the most a tenant "
                                      "may have); remove one first", field)
        return self.buyer_rules(tenant_id)

    def remove_unidentifying_value(self, tenant_id: str, field: str, value: str) -> BuyerRules:
        """Take `value` off the tenant's list (NotFound when it is not there)."""
        rules = self.buyer_rules(tenant_id)
        normalised = buyer_rules.normalised_value(field, value, rules.default_country)
        with self._connection() as conn:
            deleted = conn.execute(
                "DELETE FROM tenant_unidentifying_values WHERE tenant_id = %s AND field = %s AND value = %s",
                (tenant_id, field, normalised))
            if deleted.rowcount == 0:
                if not self._exists(conn, tenant_id):
                    raise NotFound(f"tenant {tenant_id} not found")
                raise NotFound(f"tenant {tenant_id} has no such {field} in its list")
        return self.buyer_rules(tenant_id)

    @staticmethod
    def _refuse_last_active(conn: psycopg.Connection, tenant_id: str, secret_id: int) -> None:
        """FailedPrecondition when `secret_id` is the only active secret of its sender (the tenant's row
        is locked until the caller's transaction ends); NotFound for an unknown tenant or secret."""
        if conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant_id,)).fetchone() is None:
            raise NotFound(f"tenant {tenant_id} not found")
        row = conn.execute(
            """SELECT s.revoked_at, s.platform,
                      (SELECT count(*) FROM tenant_secrets o WHERE o.tenant_id = s.tenant_id AND o.platform = s.platform
                              AND o.revoked_at IS NULL AND o.id <> s.id) AS others
               FROM tenant_secrets s WHERE s.tenant_id = %s AND s.id = %s""",
            (tenant_id, secret_id),
        ).fetchone()
        if row is None:
            raise NotFound(f"tenant {tenant_id} has no secret {secret_id}")
        if row["revoked_at"] is None and row["others"] == 0:
            raise FailedPrecondition(f"secret {secret_id} is the tenant's last active {row['platform']} secret: "
                                     "create a new one and switch your systems to it before revoking this one")

    @staticmethod
    def _exists(conn: psycopg.Connection, tenant_id: str) -> bool:
        """True when the tenant exists."""
        return conn.execute("SELECT 1 FROM tenants WHERE id = %s", (tenant_id,)).fetchone() is not None

    def _insert_secret(self, conn: psycopg.Connection, tenant_id: str, platform: str = WEBHOOK,
                       value: str | None = None) -> NewSecret:
        """Seal and store a new secret (`value`, else a generated one); return it in the clear, once. The
        row id is taken from the identity sequence first, because the sealed value is bound to it."""
        secret = value if value is not None else secret_sealing.generate()
        secret_id = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('tenant_secrets', 'id')) AS id").fetchone()["id"]
        sealed = secret_sealing.seal(self._keyring, secret, tenant_id=tenant_id, secret_id=secret_id, platform=platform)
        row = conn.execute(
            """INSERT INTO tenant_secrets (id, tenant_id, secret, platform) OVERRIDING SYSTEM VALUE
               VALUES (%s, %s, %s, %s) RETURNING created_at""",
            (secret_id, tenant_id, sealed, platform),
        ).fetchone()
        return NewSecret(secret_id, tenant_id, row["created_at"], secret, platform)
