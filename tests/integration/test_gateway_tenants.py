"""The tenants repository on real Postgres, secret rotation through the app, and `autentikapp tenants`."""

from __future__ import annotations

import json
import re
import time

import psycopg
import pytest

from cli.examples import TRANSACTION_CREATED
from cli.main import main
from common.errors import AlreadyExists, InvalidArgument, NotFound
from common.ids import is_tenant_id
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.publisher import Published
from gateway.signature import sign
from gateway.platforms import PlatformSettings
from gateway.tenants import MIGRATIONS, TenantStore

EXAMPLE = TRANSACTION_CREATED.read_bytes()


@pytest.fixture
def gateway_db(database_factory) -> str:
    return database_factory("gateway", MIGRATIONS)


@pytest.fixture
def store(gateway_db, keyring):
    store = TenantStore.open(gateway_db, keyring=keyring)
    yield store
    store.close()


def test_migrations_build_the_expected_schema(gateway_db):
    with psycopg.connect(gateway_db) as conn:
        columns = conn.execute(
            """SELECT table_name, column_name, is_nullable FROM information_schema.columns
               WHERE table_schema = 'public'
                 AND table_name IN ('tenants', 'tenant_secrets', 'tenant_unidentifying_values', 'tenant_platforms')
               ORDER BY table_name, ordinal_position""").fetchall()
    assert columns == [
        ("tenant_platforms", "tenant_id", "NO"), ("tenant_platforms", "platform", "NO"),
        ("tenant_platforms", "code_key", "NO"), ("tenant_platforms", "national_id_key", "NO"),
        ("tenant_platforms", "updated_at", "NO"),
        ("tenant_secrets", "id", "NO"), ("tenant_secrets", "tenant_id", "NO"), ("tenant_secrets", "secret", "NO"),
        ("tenant_secrets", "created_at", "NO"), ("tenant_secrets", "revoked_at", "YES"),
        ("tenant_secrets", "platform", "NO"),
        ("tenant_unidentifying_values", "tenant_id", "NO"), ("tenant_unidentifying_values", "field", "NO"),
        ("tenant_unidentifying_values", "value", "NO"), ("tenant_unidentifying_values", "created_at", "NO"),
        ("tenants", "id", "NO"), ("tenants", "name", "NO"), ("tenants", "created_at", "NO"),
        ("tenants", "default_country", "YES"), ("tenants", "require_timestamped_signatures", "NO"),
    ]


def test_create_tenant_with_a_given_or_generated_id(store):
    tenant, secret = store.create_tenant("Acme Brand", "acme")
    assert (tenant.id, tenant.name, tenant.active_secrets) == ("acme", "Acme Brand", 1)
    assert secret.secret.startswith("whsec_") and secret.tenant_id == "acme"
    assert store.active_secrets("acme") == [secret.secret]
    generated, _ = store.create_tenant("  Other   Brand ")
    assert is_tenant_id(generated.id) and generated.name == "Other Brand"
    assert [t.id for t in store.list_tenants()] == ["acme", generated.id]


def test_create_refuses_a_taken_or_malformed_id_and_an_empty_name(store):
    store.create_tenant("Acme", "acme")
    with pytest.raises(AlreadyExists):
        store.create_tenant("Again", "acme")
    with pytest.raises(InvalidArgument):
        store.create_tenant("Dots", "a.b")
    with pytest.raises(InvalidArgument):
        store.create_tenant("   ", "blank")
    assert [t.id for t in store.list_tenants()] == ["acme"]


def test_several_active_secrets_and_revocation(store):
    _, first = store.create_tenant("Acme", "acme")
    second = store.add_secret("acme")
    assert set(store.active_secrets("acme")) == {first.secret, second.secret}
    assert store.get_tenant("acme").active_secrets == 2

    revoked = store.revoke_secret("acme", first.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert store.active_secrets("acme") == [second.secret]
    assert store.revoke_secret("acme", first.id).revoked_at == revoked.revoked_at  # idempotent
    assert [(s.id, s.active) for s in store.list_secrets("acme")] == [(first.id, False), (second.id, True)]
    assert store.get_tenant("acme").active_secrets == 1


def test_unknown_tenants_and_secrets_are_not_found(store):
    _, secret = store.create_tenant("Acme", "acme")
    store.create_tenant("Other", "other")
    assert store.active_secrets("nobody") == []
    with pytest.raises(NotFound):
        store.get_tenant("nobody")
    with pytest.raises(NotFound):
        store.add_secret("nobody")
    with pytest.raises(NotFound):
        store.revoke_secret("nobody", secret.id)
    with pytest.raises(NotFound):
        store.revoke_secret("other", secret.id)  # another tenant's secret
    assert store.active_secrets("acme") == [secret.secret]


class NullPublisher:
    def publish(self, subject, data, headers, timeout):
        return Published(False, 1)

    def is_connected(self):
        return True


def test_a_revoked_secret_stops_verifying_within_the_cache_ttl(store):
    _, old = store.create_tenant("Acme", "acme")
    new = store.add_secret("acme")
    client = create_app({"SECRET_CACHE_SECONDS": 1}, tenant_store=store, publisher=NullPublisher()).test_client()

    def send(secret: str) -> int:
        return client.post("/v1/webhooks/inbound/acme", data=EXAMPLE, headers={
            "Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, EXAMPLE)}).status_code

    assert (send(old.secret), send(new.secret)) == (202, 202)  # both active: rotation without downtime
    store.revoke_secret("acme", old.id)
    revoked_at = time.monotonic()
    deadline = revoked_at + 3
    while send(old.secret) == 202:
        assert time.monotonic() < deadline, "the revoked secret still works after the TTL"
        time.sleep(0.1)
    assert time.monotonic() - revoked_at <= 1.5
    assert send(new.secret) == 202


def test_the_readiness_ping_follows_the_database(store, postgres, gateway_db):
    assert store.ping()
    postgres.drop_database(gateway_db)
    assert not store.ping(timeout=1)


# -- autentikapp tenants -----------------------------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, object, str]:
    code = main(["--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def test_cli_tenants_lifecycle(monkeypatch, capsys, database_factory, encryption_key_setting):
    url = database_factory("gateway_cli")  # empty: the CLI applies the migrations itself
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", encryption_key_setting)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://hooks.example/")

    code, created, _ = cli(capsys, "tenants", "create", "--name", "Acme", "--id", "acme")
    assert code == 0
    assert created["tenant_id"] == "acme" and created["secret"].startswith("whsec_")
    assert created["endpoint_url"] == "https://hooks.example/v1/webhooks/inbound/acme"

    code, added, _ = cli(capsys, "tenants", "secrets", "add", "acme")
    assert code == 0 and added["secret"] != created["secret"]

    code, shown, _ = cli(capsys, "tenants", "show", "acme")
    assert code == 0 and shown["active_secrets"] == 2 and len(shown["secrets"]) == 2
    assert "whsec_" not in json.dumps(shown)

    code, revoked, _ = cli(capsys, "tenants", "secrets", "revoke", "acme", str(created["secret_id"]))
    assert code == 0 and revoked["active_secrets"] == 1 and revoked["revoked_at"]

    code, listed, _ = cli(capsys, "tenants", "list")
    assert code == 0 and listed == [{"id": "acme", "name": "Acme", "created_at": listed[0]["created_at"],
                                     "active_secrets": 1}]
    assert "whsec_" not in json.dumps(listed)

    code, _, err = cli(capsys, "tenants", "show", "nobody")
    assert code == 3 and err.strip() == "autentikapp: tenant nobody not found"
    code, _, err = cli(capsys, "tenants", "create", "--name", "Again", "--id", "acme")
    assert code == 1 and err.strip() == "autentikapp: tenant acme already exists"
    code, _, err = cli(capsys, "tenants", "secrets", "revoke", "acme", "999")
    assert code == 3 and "no secret 999" in err


def test_cli_text_output_shows_the_secret_once_and_warns(monkeypatch, capsys, database_factory, encryption_key_setting):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_factory("gateway_cli"))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", encryption_key_setting)
    assert main(["tenants", "create", "--name", "Acme", "--id", "acme"]) == 0
    out, err = capsys.readouterr()
    assert "secret:" in out and "whsec_" in out and "not shown again" in err
    assert main(["tenants", "show", "acme"]) == 0
    out, _ = capsys.readouterr()
    assert "whsec_" not in out and re.search(r"^active_secrets: +1$", out, re.MULTILINE)


def test_cli_unreachable_database_is_one_line_without_password(monkeypatch, capsys, encryption_key_setting):
    from devstack.ports import free_port

    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", encryption_key_setting)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x")
    code = main(["tenants", "list"])
    _, err = capsys.readouterr()
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "hunter2" not in err and "GATEWAY_DATABASE_URL" in err


# -- buyer rules: the default country and the tenant's own values that identify nobody ------------------


def test_buyer_rules_are_empty_until_set_and_normalised_when_set(store):
    store.create_tenant("Acme", "acme")
    assert store.buyer_rules("acme") == BuyerRules()
    assert store.buyer_rules("nobody") == BuyerRules(), "an unknown tenant has no rules (nothing to reveal)"
    assert store.set_default_country("acme", " co ").default_country == "CO"
    rules = store.add_unidentifying_value("acme", "phone_number", "601 456 7890")  # read in the default country
    rules = store.add_unidentifying_value("acme", "email", " Caja1@Tienda.CO ")
    rules = store.add_unidentifying_value("acme", "national_id", "900.123.456-7")
    assert store.add_unidentifying_value("acme", "email", "caja1@tienda.co") == rules, "idempotent"
    assert rules == BuyerRules("CO", ("9001234567",), ("caja1@tienda.co",), ("+576014567890",))
    assert store.remove_unidentifying_value("acme", "email", "CAJA1@tienda.co").emails == ()
    assert store.set_default_country("acme", "").default_country == ""


def test_buyer_rules_refuse_what_is_not_a_country_a_value_or_a_tenant(store):
    store.create_tenant("Acme", "acme")
    with pytest.raises(InvalidArgument, match="ISO 3166-1 alpha-2"):
        store.set_default_country("acme", "Colombia")
    with pytest.raises(InvalidArgument, match="country code"):
        store.add_unidentifying_value("acme", "phone_number", "601 456 7890")  # no default country yet
    with pytest.raises(InvalidArgument, match="field must be one of"):
        store.add_unidentifying_value("acme", "first_name", "Ana")
    with pytest.raises(InvalidArgument, match="not a valid e-mail"):
        store.add_unidentifying_value("acme", "email", "caja")
    with pytest.raises(NotFound):
        store.set_default_country("nobody", "CO")
    with pytest.raises(NotFound):
        store.add_unidentifying_value("nobody", "email", "caja@tienda.co")
    with pytest.raises(NotFound, match="no such email"):
        store.remove_unidentifying_value("acme", "email", "caja@tienda.co")


def test_a_tenants_list_is_bounded(store, monkeypatch):
    from gateway import buyer_rules

    monkeypatch.setattr(buyer_rules, "MAX_VALUES_PER_FIELD", 3)
    store.create_tenant("Acme", "acme")
    for n in range(3):
        store.add_unidentifying_value("acme", "email", f"caja{n}@tienda.co")
    with pytest.raises(InvalidArgument, match="already has 3 email values"):
        store.add_unidentifying_value("acme", "email", "caja9@tienda.co")
    assert store.add_unidentifying_value("acme", "email", "caja0@tienda.co").emails == tuple(
        f"caja{n}@tienda.co" for n in range(3)), "a value already listed is still idempotent"


def test_cli_sets_the_country_and_the_tenants_own_values(monkeypatch, capsys, database_factory, encryption_key_setting):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_factory("gateway_cli"))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", encryption_key_setting)
    assert cli(capsys, "tenants", "create", "--name", "Acme", "--id", "acme")[0] == 0
    code, shown, _ = cli(capsys, "tenants", "country", "acme", "co")
    assert code == 0 and shown == {"tenant_id": "acme", "default_country": "CO", "values": []}
    code, shown, _ = cli(capsys, "tenants", "identity", "add", "acme", "--phone", "601 456 7890")
    assert code == 0 and shown["values"] == [{"field": "phone_number", "value": "+576014567890"}]
    code, shown, _ = cli(capsys, "tenants", "identity", "add", "acme", "--national-id", "900.123.456-7")
    assert code == 0 and len(shown["values"]) == 2
    code, shown, _ = cli(capsys, "tenants", "identity", "list", "acme")
    assert code == 0 and shown["values"] == [{"field": "national_id", "value": "9001234567"},
                                             {"field": "phone_number", "value": "+576014567890"}]
    code, shown, _ = cli(capsys, "tenants", "identity", "remove", "acme", "--phone", "+57 601 456 7890")
    assert code == 0 and shown["values"] == [{"field": "national_id", "value": "9001234567"}]
    code, _, err = cli(capsys, "tenants", "identity", "remove", "acme", "--phone", "+57 601 456 7890")
    assert code == 3 and "no such phone_number" in err
    code, _, err = cli(capsys, "tenants", "country", "acme", "XX")
    assert code == 1 and "ISO 3166-1 alpha-2" in err
    code, shown, _ = cli(capsys, "tenants", "country", "acme", "--clear")
    assert code == 0 and shown["default_country"] is None
    code, _, err = cli(capsys, "tenants", "identity", "list", "nobody")
    assert code == 3


def test_the_gateway_applies_the_tenants_default_country(store, monkeypatch):
    """Through the app, with the real store: a local number is 422 until the country is set, then 202 and
    published in E.164 with the rules on the event."""
    _, secret = store.create_tenant("Acme", "acme")
    published = []

    class Recording:
        def publish(self, subject, data, headers, timeout):
            published.append(data)
            return Published(duplicate=False, sequence=len(published))

        def stored_headers(self, sequence, timeout):
            return None

        def is_connected(self):
            return True

    app = create_app({"SECRET_CACHE_SECONDS": 0}, tenant_store=store, publisher=Recording())
    body = json.loads(EXAMPLE)
    body["customer_data"]["phone_number"] = "300 123 4567"
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret.secret, raw)}
    client = app.test_client()
    refused = client.post("/v1/webhooks/inbound/acme", data=raw, headers=headers)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["customer_data.phone_number"]
    store.set_default_country("acme", "CO")
    store.add_unidentifying_value("acme", "email", "caja1@tienda.co")
    accepted = client.post("/v1/webhooks/inbound/acme", data=raw, headers=headers)
    assert accepted.status_code == 202, accepted.get_json()
    from autentikapp.v1 import events_pb2

    event = events_pb2.WebhookEvent.FromString(published[-1])
    assert event.sale.customer.phone_number == "+573001234567"
    assert event.buyer_rules.default_country == "CO" and list(event.buyer_rules.ignored_emails) == ["caja1@tienda.co"]


def test_platform_keys_keep_what_is_not_given_and_start_from_the_defaults(store):
    store.create_tenant("Acme", "acme")
    assert store.senders("acme").platform("shopify") == PlatformSettings()
    assert store.set_platform_keys("acme", "shopify", code_key="serial") == PlatformSettings("serial", "national_id")
    assert store.set_platform_keys("acme", "shopify", national_id_key="cedula") == PlatformSettings("serial", "cedula")
    assert store.senders("acme").platform("shopify") == PlatformSettings("serial", "cedula")
    assert store.senders("acme").platform("woocommerce") == PlatformSettings(), "each platform its own"
    with pytest.raises(NotFound):
        store.set_platform_keys("nobody", "shopify", code_key="serial")
    with pytest.raises(InvalidArgument):
        store.set_platform_keys("acme", "magento", code_key="serial")


def test_settings_read_without_secrets_work_while_a_secret_cannot_be_unsealed(gateway_db, keyring):
    """What an admin tool shows needs no secret: with a key missing from the keyring, the settings still
    read, while the secrets themselves refuse (503 for senders, never a silent skip)."""
    from gateway import encryption_keys
    from gateway.tenants import SecretsUnreadable

    writer = TenantStore.open(gateway_db, keyring=keyring)
    writer.create_tenant("Acme", "acme")
    writer.set_require_timestamped("acme", True)
    writer.close()
    other = TenantStore.open(gateway_db, keyring=encryption_keys.parse(encryption_keys.new_entry("other")))
    try:
        assert other.senders("acme", with_secrets=False).require_timestamped is True
        with pytest.raises(SecretsUnreadable):
            other.senders("acme")
    finally:
        other.close()


def test_cli_platform_shows_and_sets_the_keys_and_counts_that_platforms_secrets(
        monkeypatch, capsys, database_factory, encryption_key_setting):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_factory("gateway"))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", encryption_key_setting)
    monkeypatch.setenv("WOO_SECRET", "woo-fake-test-secret-0001")
    assert main(["tenants", "create", "--name", "Acme", "--id", "acme"]) == 0
    assert main(["tenants", "secrets", "add", "acme", "--platform", "woocommerce", "--secret-env", "WOO_SECRET"]) == 0
    capsys.readouterr()
    assert main(["--json", "tenants", "platform", "acme", "woocommerce", "--code-key", "serial"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["code_key"], shown["national_id_key"], shown["active_secrets"]) == ("serial", "national_id", 1)
    assert shown["endpoint_url"].endswith("/v1/webhooks/woocommerce/acme")
    assert main(["--json", "tenants", "platform", "acme", "shopify"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["code_key"], shown["active_secrets"]) == ("autentikapp_code", 0)
    assert main(["tenants", "platform", "nobody", "shopify"]) == 3
