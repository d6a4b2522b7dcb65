"""The gateway as it runs in production: `python -m gateway` (gunicorn, gthread workers) with a real NATS
and a real tenants database, over real sockets."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import pytest

from cli.examples import TRANSACTION_CREATED
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from devstack.ready import http_ok
from gateway.signature import sign
from gateway.tenants import TenantStore

EXAMPLE = TRANSACTION_CREATED.read_bytes()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            *, chunked: bool = False) -> tuple[int, dict[str, str], object]:
    """One HTTP request; returns status, lower-cased headers and the parsed JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                         headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, body)}


def sale(transaction_id: str) -> bytes:
    payload = json.loads(EXAMPLE)
    payload["transaction_data"]["transaction_id"] = transaction_id
    return json.dumps(payload).encode()


@pytest.fixture
def running_gateway(tmp_path, nats_server, database_factory, encryption_key_setting, keyring):
    """A gunicorn gateway (2 workers) on a free port; yields (port, secret of tenant acme, group)."""
    url = database_factory("gateway")  # empty: the gateway applies its migrations at start
    port = free_port()
    env = {"GATEWAY_DATABASE_URL": url, "NATS_URL": nats_server.url, "GATEWAY_PORT": str(port),
           "BIND_HOST": "127.0.0.1", "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "4",
           "GATEWAY_SECRET_CACHE_SECONDS": "1", "SHUTDOWN_GRACE_SECONDS": "3", "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting}
    with ProcessGroup(tmp_path / "logs", grace=10) as group:
        group.start("gateway", [sys.executable, "-m", "gateway"], env,
                    ready=http_ok(f"http://127.0.0.1:{port}/readyz"), ready_timeout=30)
        store = TenantStore.open(url, keyring=keyring)
        _, secret = store.create_tenant("Acme", "acme")
        store.close()
        yield port, secret.secret, group


def test_gunicorn_gateway_accepts_refuses_and_survives_a_nats_outage(running_gateway, nats_server):
    port, secret, group = running_gateway
    path = "/v1/webhooks/inbound/acme"

    status, _, body = request(port, "POST", path, EXAMPLE, signed(secret, EXAMPLE))
    assert status == 202, body
    assert body["duplicate"] is False

    huge = b'{"padding": "' + b"x" * (600 * 1024) + b'"}'
    for chunked in (False, True):
        status, headers, body = request(port, "POST", path, huge, signed(secret, huge), chunked=chunked)
        assert status == 413, (chunked, body)
        assert headers["content-type"].startswith("application/problem+json")

    nats_server.stop()
    started = time.monotonic()
    status, headers, body = request(port, "POST", path, sale("T-OUTAGE"), signed(secret, sale("T-OUTAGE")))
    assert status == 503, body
    assert time.monotonic() - started < 3.0
    assert int(headers["retry-after"]) >= 1 and body["code"] == "temporarily-unavailable"
    assert request(port, "GET", "/readyz")[0] == 503
    assert request(port, "GET", "/healthz")[0] == 200

    nats_server.start()
    deadline = time.monotonic() + 20
    while True:
        status, _, body = request(port, "POST", path, sale("T-AFTER"), signed(secret, sale("T-AFTER")))
        if status == 202:
            break
        assert status == 503 and time.monotonic() < deadline, body
        time.sleep(0.2)
    # Each worker reconnects on its own; the one that took the 202 is back, the others follow shortly.
    while request(port, "GET", "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "a worker did not reconnect"
        time.sleep(0.1)

    child = group["gateway"]
    assert group.stop("gateway") == 0, child.describe_exit()
    log = child.log_path.read_text()
    assert "applied migrations 001_tenants" in log
    assert "POST /v1/webhooks/inbound/acme 202" in log  # our one-line request log
    assert secret not in log and sign(secret, EXAMPLE) not in log


def test_gunicorn_gateway_answers_429_with_retry_after_over_a_tenants_rate_limit(
        tmp_path, nats_server, database_factory, encryption_key_setting, keyring):
    url = database_factory("gateway")
    port = free_port()
    env = {"GATEWAY_DATABASE_URL": url, "NATS_URL": nats_server.url, "GATEWAY_PORT": str(port),
           "BIND_HOST": "127.0.0.1", "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting,
           "GATEWAY_WORKERS": "1",  # the limit is per worker process: one worker makes the count exact
           "GATEWAY_RATE_LIMIT_PER_SECOND": "0.5", "GATEWAY_RATE_LIMIT_BURST": "2"}
    with ProcessGroup(tmp_path / "logs", grace=10) as group:
        group.start("gateway", [sys.executable, "-m", "gateway"], env,
                    ready=http_ok(f"http://127.0.0.1:{port}/readyz"), ready_timeout=30)
        store = TenantStore.open(url, keyring=keyring)
        _, acme = store.create_tenant("Acme", "acme")
        _, other = store.create_tenant("Other", "other")
        store.close()
        answers = [request(port, "POST", "/v1/webhooks/inbound/acme", sale(f"T-{i}"), signed(acme.secret, sale(f"T-{i}")))
                   for i in range(3)]
        assert [status for status, _, _ in answers] == [202, 202, 429]
        _, headers, body = answers[2]
        assert headers["content-type"].startswith("application/problem+json") and body["code"] == "too-many-requests"
        assert 1 <= int(headers["retry-after"]) <= 2  # one token every 2 s
        assert request(port, "POST", "/v1/webhooks/inbound/other", EXAMPLE, signed(other.secret, EXAMPLE))[0] == 202
        assert group.stop("gateway") == 0
        assert "POST /v1/webhooks/inbound/acme 429" in group["gateway"].log_path.read_text()


def run_module(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_migrate_command_applies_the_migrations_once(database_factory, encryption_key_setting):
    env = {"GATEWAY_DATABASE_URL": database_factory("gateway"), "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting}
    first = run_module("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied migrations 001_tenants" in first.stderr
    again = run_module("migrate", env=env)
    assert again.returncode == 0 and "schema is up to date" in again.stderr


@pytest.mark.parametrize("name, value, expected", [
    ("GATEWAY_DATABASE_URL", "mysql://u:hunter2@db/x",
     "GATEWAY_DATABASE_URL: expected a postgres:// or postgresql:// URL, got scheme 'mysql'"),
    ("GATEWAY_MAX_BODY_BYTES", "lots", "GATEWAY_MAX_BODY_BYTES: expected an integer, got 'lots'"),
])
def test_a_bad_setting_exits_2_with_one_line_naming_it(name, value, expected):
    result = run_module(env={name: value})
    assert result.returncode == 2
    assert (result.stdout + result.stderr).strip().splitlines() == [f"gateway: configuration error: {expected}"]


KEY = "c2VjcmV0LWtleS1tYXRlcmlhbC1ub3QtdG8tYmUtcHJpbnRlZA=="  # 37 bytes: the wrong length


@pytest.mark.parametrize("value, expected", [
    ("", "GATEWAY_ENCRYPTION_KEYS: required"),
    (f"k1:{KEY}", "GATEWAY_ENCRYPTION_KEYS: key 'k1' (entry 1) decodes to 37 bytes"),
    (KEY, "GATEWAY_ENCRYPTION_KEYS: entry 1 is not KEY_ID:BASE64"),
    ("k1:%%%", "GATEWAY_ENCRYPTION_KEYS: key 'k1' (entry 1) is not valid base64"),
])
def test_a_missing_or_bad_key_setting_exits_2_naming_it_and_never_the_key(value, expected, database_factory):
    for command in ("serve", "migrate"):
        result = run_module(command, env={"GATEWAY_ENCRYPTION_KEYS": value})
        assert result.returncode == 2
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"gateway: configuration error: {expected}")
        assert KEY not in lines[0]


def test_an_unreachable_database_is_one_line_without_the_password(encryption_key_setting):
    result = run_module("migrate", env={"GATEWAY_DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{free_port()}/x",
                                        "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting})
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and "cannot use the database" in lines[0] and "hunter2" not in lines[0]
