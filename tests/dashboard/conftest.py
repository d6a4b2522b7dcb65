"""Fixtures of the dashboard's tests: a migrated database of its own, a hand-moved clock, the gateway's
side faked, and the app on them (Flask's test client: no browser, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from dashboard_support import FAST_ARGON2, FakeEventOutcomes, FakeTenantAdmin, ManualClock, settings

from common import migrations
from dashboard.app import close_app, create_app
from dashboard.db import MIGRATIONS
from dashboard.passwords import Passwords


SCHEMA_TABLE = "schema_migrations"  # common/migrations.py's own record, kept


@pytest.fixture(scope="module")
def migrated_dashboard_db(postgres) -> Iterator[str]:
    """One migrated dashboard database per test module (creating one per test costs more than its tests)."""
    url = postgres.create_database("dashboard")
    migrations.apply(url, MIGRATIONS)
    yield url
    postgres.drop_database(url)


@pytest.fixture
def dashboard_db(migrated_dashboard_db) -> str:
    """The module's dashboard database, emptied for this test: every table but the migrations' own, with
    identities restarted, so each test starts as on a fresh database."""
    with psycopg.connect(migrated_dashboard_db, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> %s", (SCHEMA_TABLE,))]
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
            sql.SQL(", ").join(map(sql.Identifier, tables))))
    return migrated_dashboard_db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    return Passwords(FAST_ARGON2)


@pytest.fixture
def gateway() -> FakeTenantAdmin:
    fake = FakeTenantAdmin()
    fake.add_tenant("acme", "Acme")
    fake.add_tenant("globex", "Globex", require_timestamped=True)
    return fake


@pytest.fixture
def outcomes(gateway) -> FakeEventOutcomes:
    fake = FakeEventOutcomes()
    gateway.outcomes = fake
    return fake


@pytest.fixture
def app_settings(dashboard_db):
    return settings(dashboard_db)


@pytest.fixture
def app(app_settings, gateway, outcomes, passwords, clock):
    app = create_app(app_settings, tenant_admin=gateway, event_outcomes=outcomes, passwords=passwords, clock=clock)
    yield app
    close_app(app)


@pytest.fixture
def users(app):
    """The app's own UserStore (same pool, clock and limits)."""
    return app.extensions["dashboard"].users


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def people(users):
    """An admin and a viewer of acme, and an admin of globex, all with dashboard_support.PASSWORD."""
    from dashboard_support import make_people

    return make_people(users)


@pytest.fixture
def client_for(app, people):
    """A signed-in test client for one of `people`: client_for("acme_viewer")."""
    from dashboard_support import signed_in_client

    def make(person: str):
        user = people[person]
        return signed_in_client(app, user.tenant_id, user.email)

    return make


@pytest.fixture
def admin(client_for):
    """acme's admin, signed in (a module may define its own `admin`)."""
    return client_for("acme_admin")


@pytest.fixture
def viewer(client_for):
    """acme's viewer, signed in."""
    return client_for("acme_viewer")
