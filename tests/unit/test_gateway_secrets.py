"""Secrets at rest: sealing and unsealing (AES-256-GCM bound to the row), the GATEWAY_ENCRYPTION_KEYS
setting, and that no object holding a secret or a key shows it in its repr or str."""

from __future__ import annotations

import base64

import pytest

from common.config import ConfigError
from gateway import encryption_keys, secret_sealing
from gateway.buyer_rules import BuyerRules
from gateway.dependencies import AppDependencies
from gateway.encryption_keys import Keyring, SealingKey
from gateway.secret_sealing import Malformed, NotAuthentic, NotSealed, UnknownKey
from gateway.senders import WEBHOOK, TenantSenders
from gateway.tenant_cache import TenantCache
from gateway.tenants import NewSecret, SecretsUnreadable, TenantStore

K1 = SealingKey("k1", bytes(range(32)))
K2 = SealingKey("k2", bytes(range(32, 64)))
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
ROW = {"tenant_id": "acme", "secret_id": 7}


def b64(data: bytes) -> str:
    """Standard base64 text, as the setting and the stored form use."""
    return base64.b64encode(data).decode()


def sealed(keyring: Keyring = Keyring([K1]), secret: str = SECRET, **row) -> str:
    """SECRET sealed for ROW (or the row given) under the keyring's first key."""
    return secret_sealing.seal(keyring, secret, **{**ROW, **row})


# -- sealing -------------------------------------------------------------------------------------------


def test_a_sealed_secret_unseals_and_does_not_show_the_secret():
    stored = sealed()
    version, key_id, nonce, ciphertext = stored.split(":")
    assert (version, key_id) == ("v1", "k1") and len(base64.b64decode(nonce)) == 12
    assert "whsec_" not in stored and SECRET[6:] not in stored
    assert secret_sealing.unseal(Keyring([K1]), stored, **ROW) == SECRET


def test_each_sealing_uses_a_fresh_nonce():
    first, second = sealed(), sealed()
    assert first != second and first.split(":")[2] != second.split(":")[2]


def test_a_key_id_missing_from_the_setting_is_a_clear_error():
    with pytest.raises(UnknownKey, match=r"secret 7 of tenant acme is sealed under key 'k1'.*lists k2") as excinfo:
        secret_sealing.unseal(Keyring([K2]), sealed(), **ROW)
    assert SECRET not in str(excinfo.value)


@pytest.mark.parametrize("position", [2, 3])  # the nonce, the ciphertext
def test_a_tampered_value_does_not_unseal(position):
    parts = sealed().split(":")
    raw = bytearray(base64.b64decode(parts[position]))
    raw[0] ^= 1
    parts[position] = b64(bytes(raw))
    with pytest.raises(NotAuthentic, match="altered or copied from another row"):
        secret_sealing.unseal(Keyring([K1]), ":".join(parts), **ROW)


@pytest.mark.parametrize("row", [{"secret_id": 8}, {"tenant_id": "other"}])
def test_a_value_copied_to_another_row_or_tenant_does_not_unseal(row):
    with pytest.raises(NotAuthentic):
        secret_sealing.unseal(Keyring([K1]), sealed(), **{**ROW, **row})


def test_a_key_id_whose_bytes_changed_does_not_unseal():
    with pytest.raises(NotAuthentic, match="different key bytes"):
        secret_sealing.unseal(Keyring([SealingKey("k1", K2.material)]), sealed(), **ROW)


def test_a_key_id_relabelled_in_the_stored_value_does_not_unseal():
    relabelled = sealed().replace("v1:k1:", "v1:k2:")
    with pytest.raises(NotAuthentic):
        secret_sealing.unseal(Keyring([SealingKey("k2", K1.material)]), relabelled, **ROW)


def test_a_plain_text_row_is_refused_and_named():
    with pytest.raises(NotSealed, match="secret 7 of tenant acme is stored in plain text.*reseal") as excinfo:
        secret_sealing.unseal(Keyring([K1]), SECRET, **ROW)
    assert SECRET not in str(excinfo.value)


@pytest.mark.parametrize("stored", ["", "v1:k1:abc", "v2:k1:AAAA:AAAA", "v1:k1:%%%%:AAAA",
                                    f"v1:k1:{b64(b'x' * 8)}:{b64(b'y' * 32)}"])
def test_values_in_no_known_form_are_malformed(stored):
    with pytest.raises(Malformed):
        secret_sealing.unseal(Keyring([K1]), stored, **ROW)


def test_rotation_seals_under_the_first_key_and_still_reads_the_old_one():
    old = sealed(Keyring([K1]))
    rotated = Keyring([K2, K1])
    assert secret_sealing.unseal(rotated, old, **ROW) == SECRET
    assert secret_sealing.needs_reseal(rotated, old) and secret_sealing.needs_reseal(rotated, SECRET)
    new = sealed(rotated)
    assert secret_sealing.key_id_of(new) == "k2" and not secret_sealing.needs_reseal(rotated, new)
    assert secret_sealing.unseal(Keyring([K2]), new, **ROW) == SECRET  # k1 can now be dropped


# -- GATEWAY_ENCRYPTION_KEYS ---------------------------------------------------------------------------


def test_the_setting_parses_in_order_with_spaces_around_entries():
    keyring = encryption_keys.parse(f" k2:{b64(K2.material)} , k1:{b64(K1.material)}")
    assert keyring.key_ids == ("k2", "k1") and keyring.primary == K2 and keyring.get("k1") == K1
    assert keyring.get("k3") is None


@pytest.mark.parametrize("value, reason", [
    ("", "required"),
    ("   ", "required"),
    (b64(bytes(32)), "entry 1 is not KEY_ID:BASE64"),
    (f"k1:{b64(bytes(32))},", "entry 2 is empty"),
    (f"bad id:{b64(bytes(32))}", "entry 1 has an invalid key id"),
    (f"{b64(bytes(32))}:{b64(bytes(32))}", "entry 1 has an invalid key id"),
    ("k1:not*base64!", "key 'k1' \\(entry 1\\) is not valid base64"),
    (f"k1:{b64(bytes(16))}", "key 'k1' \\(entry 1\\) decodes to 16 bytes; AES-256 needs exactly 32"),
    (f"k1:{b64(bytes(32))},k1:{b64(bytes(range(32)))}", "key id 'k1' appears twice"),
])
def test_a_bad_setting_names_the_variable_and_never_the_key(value, reason):
    with pytest.raises(ConfigError, match=f"^GATEWAY_ENCRYPTION_KEYS: {reason}") as excinfo:
        encryption_keys.parse(value)
    for material in (b64(bytes(32)), b64(bytes(16)), "not*base64!", b64(bytes(range(32)))):
        assert material not in str(excinfo.value)


def test_there_is_no_default_key(monkeypatch):
    monkeypatch.delenv("GATEWAY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv(encryption_keys.FORMER_ENV_VAR, raising=False)
    with pytest.raises(ConfigError, match="GATEWAY_ENCRYPTION_KEYS: required"):
        encryption_keys.from_env()
    entry = encryption_keys.new_entry("fresh")
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", entry)
    assert encryption_keys.from_env().primary.material == base64.b64decode(entry.split(":")[1])
    assert encryption_keys.new_entry("fresh") != entry


def test_the_former_name_of_the_setting_is_read_with_a_warning_until_the_new_one_is_set(monkeypatch, caplog):
    former, current = encryption_keys.new_entry("former"), encryption_keys.new_entry("current")
    monkeypatch.delenv("GATEWAY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("GATEWAY_SECRETS_KEYS", former)
    assert encryption_keys.from_env().key_ids == ("former",)
    assert "GATEWAY_SECRETS_KEYS is the former name of GATEWAY_ENCRYPTION_KEYS" in caplog.text
    assert former.split(":")[1] not in caplog.text
    monkeypatch.setenv("GATEWAY_SECRETS_KEYS", "k1:not*base64!")
    with pytest.raises(ConfigError, match="^GATEWAY_SECRETS_KEYS: key 'k1'"):  # the name the value came from
        encryption_keys.from_env()
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", current)
    assert encryption_keys.from_env().key_ids == ("current",)


# -- nothing shows a secret ------------------------------------------------------------------------------


class _SecretSource:
    def active_secrets(self, tenant_id):
        """Every tenant has SECRET: what the cache will then hold."""
        return [SECRET]

    def buyer_rules(self, tenant_id):
        """No default country and no list of its own."""
        return BuyerRules()


class _Publisher:
    def publish(self, subject, data, headers, timeout):
        """Never called: only AppDependencies' repr is looked at."""
        raise AssertionError("not used")

    def is_connected(self):
        """Part of the publisher protocol."""
        return True


def test_repr_and_str_of_every_object_holding_a_secret_or_a_key_hide_it():
    keyring = Keyring([K1, K2])
    source = _SecretSource()
    cache = TenantCache("senders", lambda tenant_id: TenantSenders({WEBHOOK: tuple(source.active_secrets(tenant_id))}),
                        60)
    assert cache.get("acme").secrets_of(WEBHOOK) == (SECRET,)  # now it holds the secret
    store = TenantStore(object(), keyring)
    holders = [
        K1, keyring, cache, store,
        NewSecret(1, "acme", None, SECRET), cache.get("acme"),
        AppDependencies(tenant_store=store, senders=cache, buyer_rules=TenantCache("buyer rules", source.buyer_rules, 60),
                        publisher=_Publisher()),
        SecretsUnreadable("a secret of tenant acme cannot be unsealed (NotAuthentic)"),
    ]
    for unseal_keyring, stored in [(Keyring([K2]), sealed()), (Keyring([K1]), SECRET),
                                   (Keyring([K1]), sealed().replace(":", ":A", 3))]:
        with pytest.raises(secret_sealing.UnsealError) as excinfo:
            secret_sealing.unseal(unseal_keyring, stored, **ROW)
        holders.append(excinfo.value)
    hidden = [SECRET, SECRET[6:], b64(K1.material), b64(K2.material), repr(K1.material), repr(K2.material),
              K1.material.hex(), K2.material.hex()]
    for holder in holders:
        for text in (repr(holder), str(holder)):
            assert not any(value in text for value in hidden), (type(holder).__name__, text)
    assert "k1" in repr(keyring) and "k2" in repr(keyring)  # ids are shown: they are what an operator needs
