"""The gateway's small parts: event ids, content digests, signatures, secrets, strict JSON, the secret cache,
settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from decimal import Decimal

import pytest

from common.config import ConfigError
from common.ids import is_tenant_id
from gateway import json_body, secret_sealing
from gateway.event_ids import content_digest, event_id, is_correction
from gateway.settings import GatewaySettings, public_base_url
from gateway.signature import sign, verify
from gateway.tenant_cache import TenantCache
from gateway.tenants import NewSecret, new_tenant_id


def test_event_id_is_deterministic_and_distinguishes_its_parts():
    first = event_id("acme", "transaction.created", "FACT-1")
    assert first == event_id("acme", "transaction.created", "FACT-1")
    assert first.startswith("evt_") and len(first) == 36 and all(c in "0123456789abcdef" for c in first[4:])
    others = {
        event_id("other", "transaction.created", "FACT-1"),
        event_id("acme", "transaction.created", "FACT-2"),
        event_id("acme", "transaction.updated", "FACT-1"),
        # no ambiguity between where one part ends and the next begins
        event_id("acme", "transaction.createdF", "ACT-1"),
        event_id("acm", "etransaction.created", "FACT-1"),
    }
    assert first not in others and len(others) == 5


def test_event_id_is_pinned():
    """The id is a contract (it dedupes retries across deploys): changing the derivation is a breaking change."""
    assert event_id("acme", "transaction.created", "FACT-00123") == "evt_" + hashlib.sha256(
        b"autentikapp.event-id.v1" + b"\x00\x00\x00\x04acme" + b"\x00\x00\x00\x13transaction.created"
        + b"\x00\x00\x00\x0aFACT-00123").hexdigest()[:32]


def guide_sale(**transaction_changes):
    """The guide example's validated Sale, with transaction_data fields changed."""
    from cli.examples import TRANSACTION_CREATED
    from common import timestamps
    from gateway import payload

    document = json_body.loads(TRANSACTION_CREATED.read_bytes())
    document["transaction_data"].update(transaction_changes)
    return payload.parse_sale(document, timestamps.now())


def test_content_digest_is_pinned_for_the_guide_example():
    """A stored digest is compared with a retry's for up to the duplicate window, across deploys: when this
    changes (the payload rules build another Sale, or the digest covers something else), bump
    gateway.event_ids.DIGEST_VERSION, or a retry spanning the deploy would be refused with 409."""
    assert content_digest(guide_sale()) == "v1:5b0987ab14a202b4d822074f4ebbbbf5"


def test_content_digest_ignores_the_event_timestamp_and_how_amounts_are_written():
    sale = guide_sale()
    digest = content_digest(sale)
    assert re.fullmatch(r"v1:[0-9a-f]{32}", digest)
    restamped = type(sale)()
    restamped.CopyFrom(sale)
    restamped.event_timestamp.FromSeconds(sale.event_timestamp.seconds + 3600)
    assert content_digest(restamped) == digest
    assert restamped.event_timestamp != sale.event_timestamp, "the sale itself is left as it was"
    assert content_digest(guide_sale(total_amount=Decimal("950000"))) == digest
    assert content_digest(guide_sale(total_amount=Decimal("950000.000"))) == digest


def test_content_digest_changes_with_anything_else():
    digest = content_digest(guide_sale())
    item = {"product_sku": "BOLSO-CUERO-01", "product_name": "Bolso de Cuero Edición Limitada", "quantity": 1,
            "unit_price": Decimal("950000.00"), "autentikapp_code": "a1b2c3d4-e5f6-7890-1234-567890abcdef"}
    others = {
        content_digest(guide_sale(total_amount=Decimal("950000.01"))),
        content_digest(guide_sale(currency="USD")),
        content_digest(guide_sale(line_items=[])),
        content_digest(guide_sale(line_items=[{**item, "quantity": 2}])),
        content_digest(guide_sale(line_items=[item, {**item, "autentikapp_code": "OTHER-1"}])),
        content_digest(guide_sale(line_items=[{**item, "autentikapp_code": "OTHER-1"}, item])),
        content_digest(guide_sale(line_items=[{**item, "unit_price": Decimal("1.5")}])),
    }
    assert digest not in others and len(others) == 7
    assert content_digest(guide_sale(line_items=[item])) == digest


def test_only_a_stored_digest_of_this_version_that_differs_is_a_correction():
    digest = content_digest(guide_sale())
    assert not is_correction(digest, digest)
    assert is_correction("v1:" + "0" * 32, digest)
    assert not is_correction(None, digest) and not is_correction("", digest), "stored before digests existed"
    assert not is_correction("v0:" + "0" * 32, digest), "another version cannot be compared"


def test_sign_is_hmac_sha256_hex_of_the_raw_bytes_keyed_with_the_whole_secret():
    body = b'{"a": 1}'
    assert sign("whsec_k", body) == hmac.new(b"whsec_k", body, hashlib.sha256).hexdigest()


def test_verify_accepts_either_case_and_any_active_secret_only():
    body = b"{}"
    good = sign("whsec_2", body)
    assert verify(["whsec_1", "whsec_2"], body, good)
    assert verify(["whsec_2"], body, good.upper())
    assert verify(["whsec_2"], body, f"  {good} ")
    assert not verify(["whsec_1"], body, good)
    assert not verify([], body, good)
    assert not verify(["whsec_2"], body, None)
    assert not verify(["whsec_2"], body, good[:-2])
    assert not verify(["whsec_2"], body, "é" * 64)
    assert not verify(["whsec_2"], body + b" ", good)


def test_secrets_are_whsec_and_32_random_bytes():
    secret = secret_sealing.generate()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert secret != secret_sealing.generate()


def test_a_new_secret_is_hidden_from_repr():
    secret = NewSecret(1, "acme", None, "whsec_topsecret")
    assert "topsecret" not in repr(secret)


def test_generated_tenant_ids_are_valid_tenant_ids():
    ids = {new_tenant_id() for _ in range(50)}
    assert len(ids) == 50 and all(is_tenant_id(i) for i in ids)


def test_strict_json_keeps_numbers_exact():
    document = json_body.loads(b'{"a": 1, "b": 0.10, "c": [true, null, "\\u00e9"]}')
    assert document["a"] == 1 and isinstance(document["a"], int)
    assert str(document["b"]) == "0.10"
    assert document["c"] == [True, None, "é"]


def test_strict_json_tolerates_a_bom_and_allows_32_levels():
    assert json_body.loads(b"\xef\xbb\xbf{}") == {}
    assert json_body.loads(b"[" * 32 + b"]" * 32)
    with pytest.raises(json_body.MalformedJson):
        json_body.loads(b"[" * 33 + b"]" * 33)


def _strict_json_accepts(raw: bytes) -> bool:
    """Whether json_body.loads accepts `raw`."""
    try:
        json_body.loads(raw)
        return True
    except json_body.MalformedJson:
        return False


@pytest.mark.parametrize("raw, ok", [
    (b'{"a": "\\uD83D\\uDE00"}', True),  # a pair: one character, fine
    (b'{"a": "\\uDC00"}', False),  # lone, upper case
    (b'{"a\\udbff": 1}', False),  # lone, in a key
    (b'{"a": "\\\\ud800"}', True),  # an escaped backslash, then text: no surrogate
    (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', True),  # brackets in a string nest nothing
    (b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}", True),  # 32 levels
    (b'{"a": ' + b'[{"b": ' * 16 + b"1" + b"}]" * 16 + b"}", False),  # 33 levels
])
def test_strict_json_answers_the_same_with_or_without_the_quick_look(raw, ok, monkeypatch):
    """The quick look at the text only ever skips the structure walk when the walk would find nothing."""
    assert _strict_json_accepts(raw) is ok
    monkeypatch.setattr(json_body, "_may_be_too_deep_or_hold_surrogates", lambda text: True)
    assert _strict_json_accepts(raw) is ok


class CountingSource:
    def __init__(self):
        self.secrets = {"acme": ["whsec_1"]}
        self.calls = 0

    def active_secrets(self, tenant_id):
        self.calls += 1
        return list(self.secrets.get(tenant_id, []))


def test_tenant_cache_serves_within_ttl_and_refreshes_after_it():
    clock = [100.0]
    source = CountingSource()
    cache = TenantCache("secrets", lambda t: tuple(source.active_secrets(t)), 30, clock=lambda: clock[0])
    assert cache.get("acme") == ("whsec_1",)
    source.secrets["acme"] = []  # revoked
    clock[0] += 29
    assert cache.get("acme") == ("whsec_1",) and source.calls == 1
    clock[0] += 2
    assert cache.get("acme") == () and source.calls == 2


def test_tenant_cache_caches_unknown_tenants_and_stays_bounded():
    source = CountingSource()
    cache = TenantCache("secrets", lambda t: tuple(source.active_secrets(t)), 30, max_entries=10, max_unknown=10,
                        is_unknown=lambda secrets: not secrets)
    for i in range(25):
        cache.get(f"nobody{i}")
    cache.get("nobody24")
    assert source.calls == 25
    assert len(cache) <= 10


def test_a_flood_of_unknown_tenant_ids_never_evicts_a_real_tenant():
    """Made-up ids fill a negative cache of their own: the real tenant's entry stays, so its requests
    do not all go to the database while the flood lasts."""
    source = CountingSource()
    cache = TenantCache("secrets", lambda t: tuple(source.active_secrets(t)), 30, max_entries=10, max_unknown=5,
                        is_unknown=lambda secrets: not secrets)
    cache.get("acme")
    for i in range(1000):
        cache.get(f"nobody{i}")
    calls = source.calls
    assert cache.get("acme") == ("whsec_1",) and source.calls == calls
    assert len(cache) == 6
    cache.get("nobody999")  # the newest unknown ids are still cached
    assert source.calls == calls


def test_a_tenant_created_after_it_was_cached_as_unknown_moves_to_the_known_part():
    clock = [0.0]
    source = CountingSource()
    source.secrets = {}
    cache = TenantCache("secrets", lambda t: tuple(source.active_secrets(t)), 30, is_unknown=lambda s: not s,
                        clock=lambda: clock[0])
    assert cache.get("newco") == ()
    source.secrets["newco"] = ["whsec_2"]
    clock[0] += 31
    assert cache.get("newco") == ("whsec_2",) and len(cache) == 1


def test_the_cache_never_shows_what_it_holds():
    cache = TenantCache("secrets", lambda t: ("whsec_topsecret",), 30)
    cache.get("acme")
    assert repr(cache) == str(cache) == "TenantCache(secrets, ttl=30s, tenants=1, unknown=0)"


def test_a_zero_ttl_disables_the_cache():
    source = CountingSource()
    cache = TenantCache("secrets", lambda t: tuple(source.active_secrets(t)), 0)
    cache.get("acme")
    cache.get("acme")
    assert source.calls == 2


def test_gateway_settings_defaults(monkeypatch):
    for name in ("GATEWAY_MAX_BODY_BYTES", "GATEWAY_PUBLISH_TIMEOUT_SECONDS", "GATEWAY_SECRET_CACHE_SECONDS",
                 "GATEWAY_PORT", "GATEWAY_THREADS", "PUBLIC_BASE_URL", "GATEWAY_RETRY_AFTER_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = GatewaySettings.from_env()
    assert (settings.max_body_bytes, settings.publish_timeout_seconds, settings.secret_cache_seconds) == (498688, 2.0, 30.0)
    assert (settings.port, settings.threads, settings.retry_after_seconds) == (8080, 8, 5)
    assert public_base_url() == "http://localhost:8080"


@pytest.mark.parametrize("name, value", [("GATEWAY_MAX_BODY_BYTES", "big"), ("GATEWAY_WORKERS", "0"),
                                         ("GATEWAY_DATABASE_URL", "mysql://x/y"), ("PUBLIC_BASE_URL", "ftp://x")])
def test_bad_gateway_settings_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        GatewaySettings.from_env()
        public_base_url()


def test_importing_the_gateway_starts_no_thread_and_no_connection():
    """gunicorn's master imports the config (and would import the app if preloaded): nothing may be
    started before the fork. Only gateway.wsgi (imported in each worker) builds the app."""
    import subprocess
    import sys

    code = ("import threading, gateway.app, gateway.publisher, gateway.tenants, gateway.gunicorn_conf as c;"
            "assert threading.active_count() == 1, threading.enumerate();"
            "assert c.preload_app is False and c.worker_class == 'gthread'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
