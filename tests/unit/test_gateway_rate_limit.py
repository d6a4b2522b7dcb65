"""The per-tenant rate limit: the token bucket with an injected clock, the bounded and thread-safe
limiter, the settings, and the 429 answer through the Flask test client."""

from __future__ import annotations

import threading

import pytest

from cli.examples import TRANSACTION_CREATED
from common.config import ConfigError
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.dependencies import EXTENSION
from gateway.publisher import Published
from gateway.senders import WEBHOOK, TenantSenders
from gateway.rate_limit import RateLimiter, TokenBucket
from gateway.settings import GatewaySettings
from gateway.signature import sign

SECRETS = {"acme": ["whsec_acme"], "other": ["whsec_other"]}
EXAMPLE = TRANSACTION_CREATED.read_bytes()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        """Any starting point: only differences matter."""
        self.now = 1000.0

    def __call__(self) -> float:
        """The current (hand-set) time."""
        return self.now


# -- the bucket and the limiter ----------------------------------------------------------------------


def test_a_bucket_allows_the_burst_then_says_how_long_to_wait():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every 1/2 s
    assert bucket.take(0.25) == pytest.approx(0.25)  # refused requests take nothing
    assert bucket.take(0.5) == 0.0
    assert bucket.take(100.0) == 0.0 and bucket.tokens == pytest.approx(2.0)  # refills to burst, no more


def test_the_limiter_keeps_one_bucket_per_tenant():
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock=clock)
    assert [limiter.acquire("acme") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("acme") == pytest.approx(1.0)
    assert limiter.acquire("other") == 0.0  # another tenant is not affected
    clock.now += 1.0
    assert limiter.acquire("acme") == 0.0


def test_the_limiter_is_bounded_and_evicts_the_least_recently_used():
    clock = Clock()
    limiter = RateLimiter(1.0, 1, max_tenants=3, clock=clock)
    for tenant in ("a", "b", "c"):
        limiter.acquire(tenant)
    limiter.acquire("a")  # a is now the most recently used; b the least
    limiter.acquire("d")
    assert len(limiter) == 3
    assert limiter.acquire("a") > 0 and limiter.acquire("c") > 0  # kept, still empty
    assert limiter.acquire("b") == 0.0  # evicted, so it starts again with a full bucket


def test_the_limiter_is_thread_safe():
    limiter = RateLimiter(0.001, 500, clock=Clock())  # frozen clock: exactly the burst gets through
    allowed = []
    start = threading.Barrier(16)

    def hammer() -> None:
        """100 attempts, all threads starting together."""
        start.wait()
        allowed.append(sum(limiter.acquire("acme") == 0.0 for _ in range(100)))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


def test_bad_limits_are_refused():
    for rate, burst in ((0, 1), (-1, 1), (1, 0)):
        with pytest.raises(ValueError):
            RateLimiter(rate, burst)


# -- settings ----------------------------------------------------------------------------------------


def test_rate_limit_settings_defaults_and_checks(monkeypatch):
    monkeypatch.delenv("GATEWAY_RATE_LIMIT_PER_SECOND", raising=False)
    monkeypatch.delenv("GATEWAY_RATE_LIMIT_BURST", raising=False)
    settings = GatewaySettings.from_env()
    assert (settings.rate_limit_per_second, settings.rate_limit_burst) == (50.0, 100)
    for name, value in (("GATEWAY_RATE_LIMIT_BURST", "0"), ("GATEWAY_RATE_LIMIT_PER_SECOND", "-1"),
                        ("GATEWAY_RATE_LIMIT_PER_SECOND", "nan"), ("GATEWAY_RATE_LIMIT_PER_SECOND", "lots")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            GatewaySettings.from_env()
        monkeypatch.delenv(name)


# -- 429 through the app -----------------------------------------------------------------------------


class Store:
    def active_secrets(self, tenant_id):
        """The fixed secrets of acme and other."""
        return list(SECRETS.get(tenant_id, []))

    def senders(self, tenant_id):
        """Only `whsec_` secrets."""
        return TenantSenders(secrets={WEBHOOK: tuple(self.active_secrets(tenant_id))})


    def buyer_rules(self, tenant_id):
        """No default country and no list of its own."""
        return BuyerRules()

    def ping(self, timeout=2.0):
        """Always reachable."""
        return True


class Publisher:
    def __init__(self) -> None:
        """Counts publishes, so a test can see that refused requests publish nothing."""
        self.published = 0

    def publish(self, subject, data, headers, timeout):
        """Accept, never a duplicate."""
        self.published += 1
        return Published(False, self.published)

    def is_connected(self):
        """Always connected."""
        return True


def client_with(per_second: float, burst: int, publisher: Publisher | None = None):
    """A test client of an app with this rate limit (0 per second: none) and fakes behind it."""
    app = create_app({"SECRET_CACHE_SECONDS": 0, "RATE_LIMIT_PER_SECOND": per_second, "RATE_LIMIT_BURST": burst},
                     tenant_store=Store(), publisher=publisher or Publisher())
    return app.test_client()


def post(client, tenant: str = "acme", body: bytes = EXAMPLE, secret: str | None = None):
    """POST `body` for `tenant`, signed with its secret unless another is given."""
    signature = sign(secret or SECRETS[tenant][0], body)
    return client.post(f"/v1/webhooks/inbound/{tenant}", data=body,
                       headers={"Content-Type": "application/json", "X-Autentikapp-Signature": signature})


def test_over_the_limit_is_429_problem_with_retry_after_and_nothing_is_published():
    publisher = Publisher()
    client = client_with(0.25, 2, publisher)  # one token every 4 s
    assert [post(client).status_code for _ in range(2)] == [202, 202]
    refused = post(client)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    body = refused.get_json(force=True)
    assert body["code"] == "too-many-requests" and body["status"] == 429
    assert body["type"] == "https://docs.autentik.app/problems/too-many-requests"
    assert refused.headers["Retry-After"] == "4"
    assert publisher.published == 2
    assert post(client, "other").status_code == 202  # the other tenant has its own bucket


def test_retry_after_is_at_least_one_second():
    client = client_with(1000.0, 1)
    client.application.extensions[EXTENSION].rate_limiter = RateLimiter(1000.0, 1, clock=Clock())  # frozen
    assert post(client).status_code == 202
    refused = post(client)  # the next token is 1 ms away
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"


def test_unsigned_requests_do_not_spend_a_tenants_quota():
    client = client_with(0.001, 2)
    for _ in range(10):
        assert post(client, secret="whsec_forged").status_code == 401
    assert [post(client).status_code for _ in range(2)] == [202, 202]


def test_the_limit_is_checked_before_the_body_is_parsed():
    client = client_with(0.001, 1)
    assert post(client, body=b"{not json").status_code == 400  # spends the only token
    assert post(client, body=b"{not json").status_code == 429  # answered without parsing


def test_zero_per_second_disables_the_limit():
    client = client_with(0, 1)
    assert {post(client).status_code for _ in range(20)} == {202}
