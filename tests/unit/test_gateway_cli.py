"""`autentikapp webhook send` against the gateway app served on a real loopback port (fake store/publisher)."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from werkzeug.serving import make_server

from cli.examples import TRANSACTION_CREATED
from cli.webhook import SECRET_ENV
from cli.main import main
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.event_ids import event_id
from gateway.publisher import Published
from gateway.senders import WEBHOOK, TenantSenders

SECRET = "whsec_" + base64.b64encode(b"fake test secret, never issued!!").decode()  # 32 bytes


class Store:
    def active_secrets(self, tenant_id):
        return [SECRET] if tenant_id == "acme" else []

    def senders(self, tenant_id):
        """Only `whsec_` secrets."""
        return TenantSenders(secrets={WEBHOOK: tuple(self.active_secrets(tenant_id))})


    def buyer_rules(self, tenant_id):
        """No default country and no list of its own."""
        return BuyerRules()

    def ping(self, timeout=2.0):
        return True


class Publisher:
    def __init__(self):
        self.bodies = []

    def publish(self, subject, data, headers, timeout):
        """Every publish after the first is a duplicate of the first (sequence 1)."""
        self.bodies.append(data)
        return Published(len(self.bodies) > 1, 1)

    def stored_headers(self, sequence, timeout):
        """The stored message has no content digest: any repeat counts as a retry."""
        return {}

    def is_connected(self):
        return True


@pytest.fixture
def gateway_url():
    app = create_app({"SECRET_CACHE_SECONDS": 0}, tenant_store=Store(), publisher=Publisher())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch):
    """The secret where the CLI reads it by default."""
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.mark.parametrize("scheme", ["standard-webhooks", "autentikapp"])
def test_send_example_signs_the_exact_bytes_and_prints_the_answer(capsys, gateway_url, scheme):
    code, out, _ = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--scheme", scheme,
                       "--url", gateway_url, "--example")
    assert code == 0
    answer = json.loads(out)
    assert answer == {"status": 202, "body": {"event_id": event_id("acme", "transaction.created", "FACT-00123"),
                                              "status": "accepted", "duplicate": False}}


def test_a_resend_with_the_same_webhook_id_is_answered_as_a_duplicate(capsys, gateway_url):
    first = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--webhook-id", "msg_1", "--url",
                gateway_url, "--example")
    again = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--webhook-id", "msg_1", "--url",
                gateway_url, "--example")
    assert json.loads(first[1])["body"]["duplicate"] is False
    assert json.loads(again[1])["body"]["duplicate"] is True


def test_the_secret_is_read_from_a_file(capsys, gateway_url, tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    code, out, _ = run(capsys, "webhook", "send", "--tenant", "acme", "--secret-file", str(secret_file),
                       "--url", gateway_url, "--example")
    assert code == 0 and out.startswith("HTTP 202")


def test_a_secret_on_the_command_line_is_refused_before_anything_is_sent(capsys):
    code = main(["webhook", "send", "--tenant", "acme", "--secret", SECRET, "--example"])
    err = capsys.readouterr().err
    assert code == 2 and "shows up in `ps`" in err and "--secret-file" in err and SECRET not in err


def test_no_secret_anywhere_is_one_line_naming_where_to_put_it(capsys, monkeypatch):
    monkeypatch.delenv(SECRET_ENV)
    code, _, err = run(capsys, "webhook", "send", "--tenant", "acme", "--example")
    assert code == 1 and f"set ${SECRET_ENV}" in err


def test_send_a_file_in_text_mode(capsys, gateway_url, tmp_path):
    path = tmp_path / "sale.json"
    path.write_bytes(TRANSACTION_CREATED.read_bytes())
    code, out, _ = run(capsys, "webhook", "send", "--tenant", "acme", "--url", gateway_url, str(path))
    assert code == 0 and out.startswith("HTTP 202\n") and '"status": "accepted"' in out


def test_a_refusal_exits_1_and_shows_the_problem(capsys, gateway_url, monkeypatch):
    monkeypatch.setenv("WRONG_SECRET", "whsec_" + "C" * 44)
    code, out, _ = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--secret-env", "WRONG_SECRET",
                       "--url", gateway_url, "--example")
    assert code == 1
    assert json.loads(out)["body"]["code"] == "invalid-signature"


def test_url_from_public_base_url_and_unreachable_is_one_line(capsys, monkeypatch):
    from devstack.ports import free_port

    monkeypatch.setenv("PUBLIC_BASE_URL", f"http://127.0.0.1:{free_port()}")
    code, _, err = run(capsys, "webhook", "send", "--tenant", "acme", "--example")
    assert code == 1 and err.startswith("autentikapp: cannot reach http://127.0.0.1:") and len(err.splitlines()) == 1


def test_a_missing_file_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "webhook", "send", "--tenant", "acme", str(tmp_path / "nope.json"))
    assert code == 1 and err.strip().endswith("nope.json: no such file")


def test_the_example_is_the_guide_example_without_comments():
    doc = json.loads(TRANSACTION_CREATED.read_bytes())
    assert doc["transaction_data"]["line_items"][0]["autentikapp_code"] == "a1b2c3d4-e5f6-7890-1234-567890abcdef"
    assert b"//" not in TRANSACTION_CREATED.read_bytes()
    assert b"950000.00" in TRANSACTION_CREATED.read_bytes()  # the numbers as the guide writes them
