"""Secrets at rest on real Postgres: rows are sealed, never plain text; key rotation by reseal; rows
from before encryption are sealed by `python -m gateway migrate` and by `autentikapp tenants secrets
reseal`; a row that cannot be unsealed is an error, never a silent mismatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from gateway import encryption_keys, secret_sealing
from gateway.tenants import MIGRATIONS, SecretsUnreadable, TenantStore


@pytest.fixture
def gateway_db(database_factory) -> str:
    """A fresh, migrated gateway database."""
    return database_factory("gateway", MIGRATIONS)


def open_store(url: str, *entries: str) -> TenantStore:
    """A store whose GATEWAY_ENCRYPTION_KEYS is `entries` joined, first key sealing."""
    return TenantStore.open(url, keyring=encryption_keys.parse(",".join(entries)))


def stored_rows(url: str) -> list[tuple[int, str, str]]:
    """(id, tenant_id, stored secret) of every row, as the database holds them."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, tenant_id, secret FROM tenant_secrets ORDER BY id").fetchall()


def insert_plain_row(url: str, tenant_id: str) -> str:
    """A row as the gateway wrote it before encryption at rest; returns its secret."""
    secret = secret_sealing.generate()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO tenant_secrets (tenant_id, secret) VALUES (%s, %s)", (tenant_id, secret))
    return secret


def autentikapp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed console script, as an operator runs it."""
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "autentikapp"), *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_rows_hold_sealed_values_never_the_secret(gateway_db, encryption_key_setting):
    store = open_store(gateway_db, encryption_key_setting)
    _, first = store.create_tenant("Acme", "acme")
    second = store.add_secret("acme")
    assert set(store.active_secrets("acme")) == {first.secret, second.secret}
    store.close()
    rows = stored_rows(gateway_db)
    assert [row[0] for row in rows] == [first.id, second.id]  # the ids the values are bound to
    for _, _, stored in rows:
        assert stored.startswith("v1:test:") and "whsec_" not in stored
        assert first.secret[6:] not in stored and second.secret[6:] not in stored
    with psycopg.connect(gateway_db) as conn:
        assert conn.execute("SELECT count(*) FROM tenant_secrets WHERE secret LIKE '%whsec_%'").fetchone()[0] == 0


def test_rotation_reseal_under_the_new_key_then_drop_the_old_one(gateway_db):
    old, new = encryption_keys.new_entry("old"), encryption_keys.new_entry("new")
    store = open_store(gateway_db, old)
    _, first = store.create_tenant("Acme", "acme")
    second = store.add_secret("acme")
    store.revoke_secret("acme", first.id)  # revoked rows are re-sealed too, so the old key can go
    store.close()

    rotated = open_store(gateway_db, new, old)  # step 1: the new key first, the old one still listed
    assert rotated.active_secrets("acme") == [second.secret]
    report = rotated.reseal()  # step 2
    assert (report.key_id, report.resealed, report.unchanged, report.failed) == ("new", 2, 0, ())
    assert rotated.reseal().resealed == 0  # safe to repeat
    third = rotated.add_secret("acme")
    rotated.close()
    assert {secret_sealing.key_id_of(stored) for _, _, stored in stored_rows(gateway_db)} == {"new"}

    only_new = open_store(gateway_db, new)  # step 3: the old key is dropped
    assert only_new.active_secrets("acme") == [second.secret, third.secret]
    only_new.close()
    only_old = open_store(gateway_db, old)  # and the old key alone can read nothing any more
    with pytest.raises(SecretsUnreadable):
        only_old.active_secrets("acme")
    only_old.close()


def test_a_value_moved_to_another_row_is_an_error_not_a_match(gateway_db, encryption_key_setting, caplog):
    store = open_store(gateway_db, encryption_key_setting)
    _, acme = store.create_tenant("Acme", "acme")
    _, other = store.create_tenant("Other", "other")
    with psycopg.connect(gateway_db) as conn:  # someone with write access copies acme's value over other's
        conn.execute("UPDATE tenant_secrets SET secret = (SELECT secret FROM tenant_secrets WHERE id = %s) "
                     "WHERE id = %s", (acme.id, other.id))
    with pytest.raises(SecretsUnreadable, match="tenant other"):
        store.active_secrets("other")
    assert f"secret {other.id} of tenant other does not decrypt under key 'test'" in caplog.text
    assert acme.secret not in caplog.text
    assert store.active_secrets("acme") == [acme.secret]
    store.close()


def test_plain_rows_from_before_encryption_are_sealed_by_migrate(gateway_db, encryption_key_setting):
    store = open_store(gateway_db, encryption_key_setting)
    store.create_tenant("Acme", "acme")
    legacy = insert_plain_row(gateway_db, "acme")
    with pytest.raises(SecretsUnreadable):  # refused until sealed: a plain row could be planted
        store.active_secrets("acme")

    result = subprocess.run([sys.executable, "-m", "gateway", "migrate"], capture_output=True, text=True,
                            env={**os.environ, "GATEWAY_DATABASE_URL": gateway_db,
                                 "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sealed 1 plain-text secrets under key 'test'" in result.stderr
    assert legacy not in result.stderr + result.stdout
    assert legacy in store.active_secrets("acme")
    assert not any("whsec_" in stored for _, _, stored in stored_rows(gateway_db))
    store.close()


def test_cli_reseal_seals_plain_and_old_rows_and_reports_unreadable_ones(gateway_db):
    old, new, lost = (encryption_keys.new_entry(k) for k in ("old", "new", "lost"))
    store = open_store(gateway_db, old)
    _, first = store.create_tenant("Acme", "acme")
    store.close()
    legacy = insert_plain_row(gateway_db, "acme")
    lost_store = open_store(gateway_db, lost)
    lost_store.add_secret("acme")  # sealed under a key nobody lists any more
    lost_store.close()

    env = {"GATEWAY_DATABASE_URL": gateway_db, "GATEWAY_ENCRYPTION_KEYS": f"{new},{old}"}
    result = autentikapp("--json", "tenants", "secrets", "reseal", env=env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["key_id"], report["resealed"], report["unchanged"]) == ("new", 2, 0)
    assert len(report["failed"]) == 1 and "sealed under key 'lost'" in report["failed"][0]
    assert result.stderr.count("\n") == 1 and "1 secrets could not be re-sealed" in result.stderr
    for text in (result.stdout, result.stderr):
        assert first.secret not in text and legacy not in text and "whsec_" not in text

    check = open_store(gateway_db, new)
    assert {secret_sealing.key_id_of(s) for i, _, s in stored_rows(gateway_db)} == {"new", "lost"}
    check.revoke_secret("acme", max(i for i, _, _ in stored_rows(gateway_db)))  # retire the unreadable one
    assert set(check.active_secrets("acme")) == {first.secret, legacy}
    check.close()


def test_cli_tenants_commands_need_the_key_setting(gateway_db):
    env = {"GATEWAY_DATABASE_URL": gateway_db, "GATEWAY_ENCRYPTION_KEYS": ""}
    result = autentikapp("tenants", "create", "--name", "Acme", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("autentikapp: GATEWAY_ENCRYPTION_KEYS: required") and result.stderr.count("\n") == 1
