"""The demo tenant `make run` prepares once: a tenant, a few registered codes, and its secret kept in
`.run/demo-tenant.json` (git-ignored, mode 0600) so every later `make run` can print the same
ready-to-paste command. Local development only: a real tenant's secret is shown once and never stored
outside the gateway's database."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common import grpc_tls, migrations
from common.errors import NotFound
from gateway.encryption_keys import Keyring
from gateway.tenants import MIGRATIONS, SecretsUnreadable, TenantStore

DEMO_TENANT_ID = "demo"
DEMO_TENANT_NAME = "Demo brand"
DEMO_COUNTRY = "CO"
# The integration guide's example code first, so `autentikapp webhook send --example` links it.
DEMO_CODES = ["a1b2c3d4-e5f6-7890-1234-567890abcdef", *(f"DEMO-{i:04d}" for i in range(1, 6))]


@dataclass(frozen=True)
class Demo:
    """What the banner shows."""

    tenant_id: str
    secret: str
    codes: list[str]


def _saved_secret(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("secret") if data.get("tenant_id") == DEMO_TENANT_ID else None


def _save_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"tenant_id": DEMO_TENANT_ID, "secret": secret}, out)


def _readable_secrets(store: TenantStore) -> list[str]:
    """The demo tenant's active secrets. If they were sealed under a development key that is gone (the
    kept key file was deleted but not the data), they are revoked: nothing can read them any more."""
    try:
        return store.active_secrets(DEMO_TENANT_ID)
    except SecretsUnreadable:
        for info in store.list_secrets(DEMO_TENANT_ID):
            if info.active:
                store.revoke_secret(DEMO_TENANT_ID, info.id)
        return []


def ensure_demo(gateway_database_url: str, identifier_address: str, secret_file: Path, keyring: Keyring,
                tls: grpc_tls.TlsFiles | None) -> Demo:
    """Create the demo tenant (a Colombian brand: default country CO) and its codes when missing; reuse
    the saved secret, else issue one.
    `keyring` is the gateway's GATEWAY_ENCRYPTION_KEYS (the store seals the secrets it issues); `tls` the
    operator's certificate, to register the codes."""
    migrations.apply(gateway_database_url, MIGRATIONS)
    store = TenantStore.open(gateway_database_url, keyring=keyring)
    try:
        try:
            store.get_tenant(DEMO_TENANT_ID)
            secret = _saved_secret(secret_file)
            if secret is None or secret not in _readable_secrets(store):
                secret = store.add_secret(DEMO_TENANT_ID).secret
        except NotFound:
            secret = store.create_tenant(DEMO_TENANT_NAME, DEMO_TENANT_ID)[1].secret
            # The guide's brand is Colombian: "300 123 4567" from its POS is +573001234567.
            store.set_default_country(DEMO_TENANT_ID, DEMO_COUNTRY)
    finally:
        store.close()
    _save_secret(secret_file, secret)
    with grpc_tls.channel(identifier_address, tls) as channel:
        identifier_pb2_grpc.IdentifierServiceStub(channel).RegisterIdentifiers(
            identifier_pb2.RegisterIdentifiersRequest(tenant_id=DEMO_TENANT_ID, codes=DEMO_CODES), timeout=10
        )
    return Demo(DEMO_TENANT_ID, secret, DEMO_CODES)


DEMO_ADMIN_EMAIL = "admin@demo.example"


def ensure_dashboard_login(dashboard_database_url: str, login_file: Path) -> tuple[str, str]:
    """The demo tenant's dashboard admin (e-mail, password): created once with a random password kept in
    `login_file` (mode 0600, like the demo secret); a user without a readable saved password gets a new
    one. Local development only."""
    from dashboard.audit import Actor
    from dashboard.db import MIGRATIONS as DASHBOARD_MIGRATIONS
    from dashboard.db import open_pool
    from dashboard.passwords import Passwords
    from dashboard.settings import LoginLimits
    from dashboard.users import ADMIN, UserStore

    migrations.apply(dashboard_database_url, DASHBOARD_MIGRATIONS)
    try:
        saved = json.loads(login_file.read_text())
    except (OSError, ValueError):
        saved = {}
    pool = open_pool(dashboard_database_url, min_size=1, max_size=1)
    try:
        users = UserStore(pool, Passwords(), LoginLimits())
        actor = Actor.cli("make run")
        existing = {u.email for u in users.list_users(DEMO_TENANT_ID)}
        password = saved.get("password") if saved.get("email") == DEMO_ADMIN_EMAIL else None
        if DEMO_ADMIN_EMAIL not in existing:
            password = password or secrets.token_urlsafe(12)
            users.create_user(DEMO_TENANT_ID, DEMO_ADMIN_EMAIL, password, ADMIN, actor)
        elif password is None:
            password = secrets.token_urlsafe(12)
            users.set_password(DEMO_TENANT_ID, DEMO_ADMIN_EMAIL, password, actor)
    finally:
        pool.close()
    login_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(login_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"email": DEMO_ADMIN_EMAIL, "password": password}, out)
    return DEMO_ADMIN_EMAIL, password
