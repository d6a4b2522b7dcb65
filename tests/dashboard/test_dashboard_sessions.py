"""Server-side sessions on real Postgres: only the token's digest is stored; absolute and idle expiry on
a hand-moved clock; revocation; a disabled user's session is gone."""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from dashboard import db
from dashboard.audit import Actor
from dashboard.sessions import COOKIE, SECURE_COOKIE, CookiePolicy, SessionStore


@pytest.fixture
def sessions(dashboard_db, clock):
    pool = db.open_pool(dashboard_db)
    yield SessionStore(pool, lifetime_seconds=3600, idle_seconds=600, clock=clock)
    pool.close()


@pytest.fixture
def ana(people):
    return people["acme_admin"]


def test_the_table_holds_the_tokens_digest_never_the_token(sessions, ana, dashboard_db):
    token, session = sessions.create(ana, "es")
    with psycopg.connect(dashboard_db) as conn:
        rows = conn.execute("SELECT token_hash FROM sessions").fetchall()
    assert rows == [(hashlib.sha256(token.encode()).digest(),)]
    assert len(token) >= 43 and token not in repr(session) and session.csrf_token not in repr(session)


def test_lookup_finds_the_session_with_its_user_csrf_token_and_language(sessions, ana):
    token, created = sessions.create(ana, "en")
    found = sessions.lookup(token)
    assert (found.user, found.csrf_token, found.lang) == (ana, created.csrf_token, "en")
    assert sessions.lookup(token + "x") is None
    assert sessions.lookup("") is None and sessions.lookup(None) is None


def test_each_session_has_its_own_token_and_csrf_token(sessions, ana):
    (t1, s1), (t2, s2) = sessions.create(ana, "es"), sessions.create(ana, "es")
    assert t1 != t2 and s1.csrf_token != s2.csrf_token


def test_a_session_ends_when_idle_too_long(sessions, ana, clock):
    token, _ = sessions.create(ana, "es")
    clock.advance(seconds=599)
    assert sessions.lookup(token) is not None  # a request: it is touched (older than a minute)
    clock.advance(seconds=599)
    assert sessions.lookup(token) is not None
    clock.advance(seconds=600)
    assert sessions.lookup(token) is None


def test_a_session_ends_at_its_absolute_lifetime_however_active(sessions, ana, clock):
    token, session = sessions.create(ana, "es")
    for _ in range(11):  # a request every 5 minutes, up to 55 minutes in
        clock.advance(seconds=300)
        assert sessions.lookup(token) is not None
    clock.advance(seconds=300)
    assert clock.now == session.expires_at
    assert sessions.lookup(token) is None


def test_revoke_ends_the_session_and_is_audited(sessions, users, ana):
    token, session = sessions.create(ana, "es")
    sessions.revoke(session)
    assert sessions.lookup(token) is None
    assert users.audit_entries("acme")[0].action == "user.signed_out"


def test_a_disabled_users_sessions_stop_working_at_once(sessions, users, people):
    token, _ = sessions.create(people["acme_viewer"], "es")
    users.disable_user("acme", people["acme_viewer"].id, Actor.user(people["acme_admin"].id, "ana@acme.example"))
    assert sessions.lookup(token) is None


def test_expired_sessions_are_swept_when_a_new_one_is_created(sessions, ana, clock, dashboard_db):
    sessions.create(ana, "es")
    clock.advance(seconds=3600)
    sessions.create(ana, "es")
    with psycopg.connect(dashboard_db) as conn:
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


def test_set_lang_is_remembered(sessions, ana):
    token, session = sessions.create(ana, "es")
    sessions.set_lang(session, "en")
    assert sessions.lookup(token).lang == "en"


def test_cookie_policy():
    secure, plain = CookiePolicy(True), CookiePolicy(False)
    assert secure.name == SECURE_COOKIE == "__Host-" + COOKIE and plain.name == COOKIE
    assert secure.attributes() == {"httponly": True, "secure": True, "samesite": "Lax", "path": "/"}
    assert plain.attributes()["secure"] is False and plain.attributes()["httponly"] is True

