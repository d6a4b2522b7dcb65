"""Users on real Postgres: creation rules, sign-in, lockout (on a hand-moved clock), disabling, and the
audit entries each change writes in its own transaction."""

from __future__ import annotations

import psycopg
import pytest
from argon2 import extract_parameters
from dashboard_support import FAST_ARGON2, PASSWORD, ManualClock, settings

from common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from dashboard import db
from dashboard.audit import Actor, check_details
from dashboard.passwords import Passwords
from dashboard.users import UserStore

CLI = Actor.cli("test")
ADDRESS = "203.0.113.7"


@pytest.fixture
def store(dashboard_db, passwords, clock):
    pool = db.open_pool(dashboard_db)
    yield UserStore(pool, passwords, settings(dashboard_db).login, clock)
    pool.close()


def actions(store, tenant_id: str) -> list[tuple[str, str]]:
    """The tenant's audit log, oldest first, as (action, target)."""
    return [(e.action, e.target) for e in reversed(store.audit_entries(tenant_id))]


def test_migration_builds_the_tables(dashboard_db):
    with psycopg.connect(dashboard_db) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()}
    assert {"users", "sessions", "login_throttle", "audit_log"} <= tables


def test_create_user_normalises_the_e_mail_hashes_the_password_and_audits(store, dashboard_db):
    user = store.create_user("acme", "  Ana@ACME.example ", PASSWORD, "admin", CLI)
    assert (user.tenant_id, user.email, user.role, user.active) == ("acme", "ana@acme.example", "admin", True)
    with psycopg.connect(dashboard_db) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user.id,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    entries = store.audit_entries("acme")
    assert [(e.action, e.actor, e.details) for e in entries] == [
        ("user.created", "cli:test", {"email": "ana@acme.example", "role": "admin"})]


def test_an_e_mail_is_unique_per_tenant_not_globally(store):
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    with pytest.raises(AlreadyExists):
        store.create_user("acme", "ANA@acme.example", PASSWORD, "viewer", CLI)
    assert store.create_user("globex", "ana@acme.example", PASSWORD, "viewer", CLI).tenant_id == "globex"
    assert [e.action for e in store.audit_entries("acme")] == ["user.created"]  # the refused one wrote nothing


@pytest.mark.parametrize("tenant, email, password, role, field", [
    ("acme", "not-an-address", PASSWORD, "admin", "email"),
    ("acme", "", PASSWORD, "admin", "email"),
    ("acme/x", "ana@acme.example", PASSWORD, "admin", "tenant_id"),
    ("acme", "ana@acme.example", "too short", "admin", "password"),
    ("acme", "ana@acme.example", "ana@acme.example", "admin", "password"),
    ("acme", "ana@acme.example", PASSWORD, "owner", "role"),
])
def test_create_user_refuses_bad_input_naming_the_field(store, tenant, email, password, role, field):
    with pytest.raises(InvalidArgument) as refused:
        store.create_user(tenant, email, password, role, CLI)
    assert refused.value.field == field
    assert store.list_users("acme") == []


def test_sign_in_with_the_right_password(store):
    user = store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    result = store.authenticate("acme", "ANA@acme.example", PASSWORD, ADDRESS)
    assert result.user == user and result.locked_for == 0
    assert actions(store, "acme")[-1] == ("user.signed_in", f"user:{user.id}")


@pytest.mark.parametrize("tenant, email, password", [
    ("acme", "ana@acme.example", "wrong password!"),
    ("globex", "ana@acme.example", PASSWORD),      # right person, other tenant
    ("acme", "nobody@acme.example", PASSWORD),
    ("nope", "ana@acme.example", PASSWORD),
    ("bad tenant!", "ana@acme.example", PASSWORD),
    ("acme", "not an e-mail", PASSWORD),
])
def test_sign_in_fails_the_same_way_whatever_is_wrong(store, tenant, email, password):
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    result = store.authenticate(tenant, email, password, ADDRESS)
    assert (result.user, result.locked_for) == (None, 0)


def test_a_hash_with_old_parameters_is_rehashed_at_sign_in(dashboard_db, clock):
    pool = db.open_pool(dashboard_db)
    try:
        old = UserStore(pool, Passwords(), settings(dashboard_db).login, clock)  # production parameters
        user = old.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
        new = UserStore(pool, Passwords(FAST_ARGON2), settings(dashboard_db).login, clock)
        assert new.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user == user
        with psycopg.connect(dashboard_db) as conn:
            stored = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user.id,)).fetchone()[0]
        assert extract_parameters(stored) == FAST_ARGON2
        assert new.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user == user
    finally:
        pool.close()


def test_the_account_locks_after_n_failures_even_for_the_right_password_then_unlocks(store, clock):
    """Limits in dashboard_support.settings: 3 failures lock the account for 600 s."""
    user = store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    assert store.authenticate("acme", "ana@acme.example", "wrong 1 wrong 1", ADDRESS).locked_for == 0
    assert store.authenticate("acme", "ana@acme.example", "wrong 2 wrong 2", ADDRESS).locked_for == 0
    third = store.authenticate("acme", "ana@acme.example", "wrong 3 wrong 3", ADDRESS)
    assert third.user is None and third.locked_for == 600
    assert actions(store, "acme")[-1] == ("user.locked", f"user:{user.id}")
    locked = store.audit_entries("acme")[0]
    assert locked.details == {"until": "2026-03-02T09:10:00+00:00"} and locked.at == clock.now

    clock.advance(seconds=599)
    still = store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS)
    assert (still.user, still.locked_for) == (None, 1)
    clock.advance(seconds=1)
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user == user


def test_a_success_resets_the_account_count(store):
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    for _ in range(2):
        store.authenticate("acme", "ana@acme.example", "wrong password!", ADDRESS)
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user is not None
    for _ in range(2):
        assert store.authenticate("acme", "ana@acme.example", "wrong password!", ADDRESS).locked_for == 0


def test_failures_spread_beyond_the_window_do_not_lock(store, clock):
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    for _ in range(5):
        assert store.authenticate("acme", "ana@acme.example", "wrong password!", f"198.51.100.{_}").locked_for == 0
        clock.advance(seconds=301)  # 3 failures never fall within one 600 s window


def test_an_unknown_account_locks_exactly_like_a_known_one(store):
    """Otherwise a lockout would tell an attacker which e-mails have accounts."""
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    known = [store.authenticate("acme", "ana@acme.example", "wrong password!", ADDRESS).locked_for for _ in range(4)]
    unknown = [store.authenticate("acme", "ghost@acme.example", "wrong password!", "192.0.2.1").locked_for
               for _ in range(4)]
    assert known == unknown == [0, 0, 600, 600]
    assert [a for a, _ in actions(store, "acme")].count("user.locked") == 1  # only a real user is audited


def test_an_address_is_blocked_after_its_limit_whichever_accounts_it_tries(store, clock):
    """Limits: 10 failures from one address within 900 s block it for 900 s; others still sign in."""
    store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    results = [store.authenticate("acme", f"guess{n}@acme.example", "wrong password!", ADDRESS).locked_for
               for n in range(10)]
    assert results == [0] * 9 + [900]
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).locked_for == 900
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, "192.0.2.99").user is not None
    clock.advance(seconds=900)
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user is not None


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(store, dashboard_db):
    admin = store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    viewer = store.create_user("acme", "victor@acme.example", PASSWORD, "viewer", CLI)
    with psycopg.connect(dashboard_db, autocommit=True) as conn:
        conn.execute("INSERT INTO sessions VALUES (sha256('t'), %s, 'c', 'es', now(), "
                     "now() + interval '1 hour', now())", (viewer.id,))
    by = Actor.user(admin.id, admin.email)
    disabled = store.disable_user("acme", viewer.id, by)
    assert disabled.disabled_at is not None
    assert store.disable_user("acme", viewer.id, by).disabled_at == disabled.disabled_at  # idempotent
    assert store.authenticate("acme", "victor@acme.example", PASSWORD, ADDRESS).user is None
    with psycopg.connect(dashboard_db) as conn:
        assert conn.execute("SELECT count(*) FROM sessions WHERE user_id = %s", (viewer.id,)).fetchone()[0] == 0
    entries = [e for e in store.audit_entries("acme") if e.action == "user.disabled"]
    assert [(e.actor, e.user_id, e.target) for e in entries] == [
        (f"user:{admin.id} ana@acme.example", admin.id, f"user:{viewer.id}")]


def test_nobody_disables_themselves_nor_another_tenants_user(store):
    admin = store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    other = store.create_user("globex", "gina@globex.example", PASSWORD, "admin", CLI)
    with pytest.raises(FailedPrecondition):
        store.disable_user("acme", admin.id, Actor.user(admin.id, admin.email))
    with pytest.raises(NotFound):
        store.disable_user("acme", other.id, Actor.user(admin.id, admin.email))
    with pytest.raises(NotFound):
        store.get_user("acme", other.id)
    assert store.get_user("globex", other.id).active
    assert [u.email for u in store.list_users("acme")] == ["ana@acme.example"]


@pytest.mark.parametrize("details", [
    {"secret": "whsec_x"}, {"password": "p"}, {"session_token": "t"}, {"nested": {"password_hash": "h"}},
    {"list": [{"Secret": "x"}]},
])
def test_audit_details_refuse_anything_that_could_hold_a_secret(details):
    with pytest.raises(ValueError):
        check_details(details)


def test_audit_details_allow_a_secrets_id():
    assert check_details({"secret_id": 7}) == {"secret_id": 7}


def test_audit_pages_newest_first(store):
    for n in range(5):
        store.record("acme", CLI, f"thing.{n}")
    first = store.audit_entries("acme", limit=2)
    second = store.audit_entries("acme", limit=2, before_id=first[-1].id)
    assert [e.action for e in first + second] == ["thing.4", "thing.3", "thing.2", "thing.1"]
    assert store.audit_entries("globex") == []


def test_the_clock_is_the_injected_one(store, clock: ManualClock):
    user = store.create_user("acme", "ana@acme.example", PASSWORD, "admin", CLI)
    assert user.created_at == clock.now
