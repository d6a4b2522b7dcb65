"""Fixtures of the dashboard's tests: a migrated database of its own, a hand-moved clock, the gateway's
side faked, and the app on them (Flask's test client: no browser, no sockets)."""

from __future__ import annotations

import pytest
from dashboard_support import FAST_ARGON2, FakeEventOutcomes, FakeTenantAdmin, ManualClock, settings

from dashboard.app import close_app, create_app
from dashboard.db import MIGRATIONS
from dashboard.passwords import Passwords


@pytest.fixture
def dashboard_db(database_factory) -> str:
    return database_factory("dashboard", MIGRATIONS)


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
