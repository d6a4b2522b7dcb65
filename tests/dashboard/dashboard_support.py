"""What the dashboard's tests share: a clock moved by hand, cheap Argon2 parameters, a fake of the
gateway's TenantAdmin, settings built in code, and sign-in through the real form."""

from __future__ import annotations

import dataclasses
import itertools
import re
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import Parameters, Type

from common.errors import FailedPrecondition, InvalidArgument, NotFound
from dashboard.gateway_api import DeadLetter, IssuedSecret, RefusedRequest, SecretMetadata, TenantSettings, TestSale
from dashboard.outcomes_api import EventFilter, EventRow, LineItem
from dashboard.settings import DashboardSettings, LoginLimits

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
# Valid Argon2id, but cheap: thousands of hashes in a test run. Production's are checked on their own.
FAST_ARGON2 = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=1024,
                         parallelism=1)
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class ManualClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def settings(database_url: str, **overrides) -> DashboardSettings:
    """Settings as the environment would give them, for a test's database."""
    base = DashboardSettings(
        database_url=database_url, log_level="INFO", log_format="text", metrics_port=0, grace_seconds=1.0,
        migrate_on_start=False, bind_host="127.0.0.1", port=0, workers=1, threads=1, pool_min=1, pool_max=4,
        secure_cookies=True, session_lifetime_seconds=8 * 3600, session_idle_seconds=1800,
        login=LoginLimits(account_failures=3, lockout_seconds=600, ip_failures=10, ip_window_seconds=900),
        public_base_url="https://webhooks.example.test", trusted_proxies=0)
    return dataclasses.replace(base, **overrides)


class FakeTenantAdmin:
    """The gateway's side, in memory, with the same scoping rules: a secret belongs to one tenant, and
    another tenant's id is NotFound."""

    def __init__(self):
        self.tenants: dict[str, TenantSettings] = {}
        self.secrets: dict[str, list[SecretMetadata]] = {}
        self.values: dict[int, str] = {}
        self._ids = itertools.count(1)
        self.now = START
        self.refused: dict[str, list[RefusedRequest]] = {}
        self.dead: dict[str, list[DeadLetter]] = {}
        self.replayed: list[tuple[str, int]] = []
        self.test_sales: list[str] = []
        self.outcomes: "FakeEventOutcomes | None" = None  # where a test sale's outcome appears, when set

    def add_tenant(self, tenant_id: str, name: str, *, require_timestamped: bool = False,
                   platforms: tuple[str, ...] = ()) -> None:
        self.tenants[tenant_id] = TenantSettings(tenant_id, name, require_timestamped)
        self.secrets[tenant_id] = []
        self.create_secret(tenant_id)
        for platform in platforms:
            self.secrets[tenant_id].append(SecretMetadata(next(self._ids), self.now, None, platform))

    def _tenant(self, tenant_id: str) -> TenantSettings:
        if tenant_id not in self.tenants:
            raise NotFound(f"tenant {tenant_id} not found")
        return self.tenants[tenant_id]

    def tenant_settings(self, tenant_id: str) -> TenantSettings:
        return self._tenant(tenant_id)

    def list_secrets(self, tenant_id: str) -> list[SecretMetadata]:
        self._tenant(tenant_id)
        return list(self.secrets[tenant_id])

    def create_secret(self, tenant_id: str) -> IssuedSecret:
        self._tenant(tenant_id)
        secret_id = next(self._ids)
        value = "whsec_" + secrets.token_urlsafe(32)
        self.values[secret_id] = value
        self.secrets[tenant_id].append(SecretMetadata(secret_id, self.now, None))
        return IssuedSecret(secret_id, self.now, value)

    def revoke_secret(self, tenant_id: str, secret_id: int) -> SecretMetadata:
        self._tenant(tenant_id)
        for index, secret in enumerate(self.secrets[tenant_id]):
            if secret.id == secret_id:
                others = [s for s in self.secrets[tenant_id] if s.active and s.platform == secret.platform
                          and s.id != secret_id]
                if secret.active and not others:
                    raise FailedPrecondition(f"secret {secret_id} is the tenant's last active secret")
                revoked = dataclasses.replace(secret, revoked_at=secret.revoked_at or self.now)
                self.secrets[tenant_id][index] = revoked
                return revoked
        raise NotFound(f"tenant {tenant_id} has no secret {secret_id}")


    def send_test_sale(self, tenant_id: str) -> TestSale:
        self._tenant(tenant_id)
        if not any(s.active for s in self.secrets[tenant_id]):
            raise FailedPrecondition("the tenant has no active secret to sign with")
        transaction = f"PRUEBA-{len(self.test_sales) + 1}"
        event_id = f"evt_test{len(self.test_sales) + 1}"
        self.test_sales.append(event_id)
        if self.outcomes is not None:
            self.outcomes.add(tenant_id, event_id, transaction, [("a1b2", "assigned")])
        return TestSale(202, transaction, event_id)

    def refused_requests(self, tenant_id: str, page_token: str = "") -> tuple[list[RefusedRequest], str]:
        self._tenant(tenant_id)
        return list(self.refused.get(tenant_id, [])), ""

    def dead_letters(self, tenant_id: str) -> list[DeadLetter]:
        self._tenant(tenant_id)
        return list(self.dead.get(tenant_id, []))

    def replay_dead_letter(self, tenant_id: str, sequence: int) -> str:
        self._tenant(tenant_id)
        for entry in self.dead.get(tenant_id, []):
            if entry.sequence == sequence:
                self.dead[tenant_id].remove(entry)
                self.replayed.append((tenant_id, sequence))
                return entry.event_id
        raise NotFound(f"no dead letter {sequence} for tenant {tenant_id}")


class FakeEventOutcomes:
    """The processor's side, in memory: outcomes per tenant, newest first, pages of `page_size`."""

    def __init__(self, page_size: int = 2):
        self.rows: dict[str, list[EventRow]] = {}
        self.page_size = page_size

    def add(self, tenant_id: str, event_id: str, transaction_id: str, items: list[tuple[str, str]],
            status: str = "processed") -> None:
        row = EventRow(event_id, transaction_id, "transaction.created", status, START, "",
                       tuple(LineItem(i, code, "SKU", outcome) for i, (code, outcome) in enumerate(items)))
        self.rows.setdefault(tenant_id, []).insert(0, row)

    def list_events(self, tenant_id: str, filters: EventFilter, page_token: str = "") -> tuple[list[EventRow], str]:
        rows = [r for r in self.rows.get(tenant_id, [])
                if (not filters.status or r.status == filters.status)
                and (not filters.outcome or any(i.outcome == filters.outcome for i in r.line_items))
                and (not filters.transaction_id or r.transaction_id == filters.transaction_id)]
        if page_token and not page_token.isdigit():
            raise InvalidArgument("page_token is not a token of this listing", "page_token")
        start = int(page_token or 0)
        end = start + self.page_size
        return rows[start:end], str(end) if end < len(rows) else ""

    def get_event(self, tenant_id: str, event_id: str) -> EventRow:
        for row in self.rows.get(tenant_id, []):
            if row.event_id == event_id:
                return row
        raise NotFound(f"no event {event_id}")


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_FIELD.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, tenant: str, email: str, password: str = PASSWORD, **kwargs):
    """Sign in through the form, as a browser does: GET it (login CSRF cookie + field), then POST it."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "tenant": tenant, "email": email,
                                       "password": password}, **kwargs)


def session_token(client) -> str:
    """The CSRF token of the signed-in session, as the settings page's forms carry it."""
    return csrf_token(client.get("/configuracion/integraciones/webhooks").get_data(as_text=True))


# -- added for the events, operations, users and navigation page tests ------------------------------------

SECTIONS_NAV = re.compile(r'<nav class="sections"[^>]*>(.*?)</nav>', re.DOTALL)
NAV_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>')


def signed_in_client(app, tenant: str, email: str):
    """A fresh test client signed in as `email` of `tenant` (one of conftest's `people`)."""
    client = app.test_client()
    response = sign_in(client, tenant, email)
    assert response.status_code == 303, response.status_code
    return client


def section_links(html: str) -> list[tuple[str, bool]]:
    """The section nav's links as (href, marked aria-current="page"); [] when the page has no such nav."""
    match = SECTIONS_NAV.search(html)
    return [(href, bool(current)) for href, current in NAV_LINK.findall(match.group(1))] if match else []


def refused_request(**overrides) -> RefusedRequest:
    """A request the gateway refused, as its admin API lists it."""
    values = {"received_at": START, "http_status": 422, "code": "invalid_payload", "reason": "a line item has no code",
              "fields": ("line_items[0].code",), "source": "203.0.113.9"}
    return RefusedRequest(**{**values, **overrides})


def dead_letter(sequence: int, event_id: str, transaction_id: str, **overrides) -> DeadLetter:
    """A dead-lettered event, as the gateway's admin API lists it."""
    values = {"reason": "customer service unavailable", "dead_lettered_at": START, "deliveries": 5, "replays": 0}
    return DeadLetter(sequence, event_id, transaction_id, **{**values, **overrides})


def make_people(users) -> dict:
    """An admin and a viewer of acme, and an admin of globex, all with PASSWORD, through a UserStore."""
    from dashboard.audit import Actor

    cli = Actor.cli("test")
    return {
        "acme_admin": users.create_user("acme", "ana@acme.example", PASSWORD, "admin", cli),
        "acme_viewer": users.create_user("acme", "victor@acme.example", PASSWORD, "viewer", cli),
        "globex_admin": users.create_user("globex", "gina@globex.example", PASSWORD, "admin", cli),
    }
