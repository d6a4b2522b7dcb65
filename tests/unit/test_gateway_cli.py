"""`autentikapp webhook send` against the gateway app served on a real loopback port (fake store/publisher)."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server

from cli.examples import TRANSACTION_CREATED
from cli.main import main
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.event_ids import event_id
from gateway.publisher import Published

SECRET = "whsec_" + "C" * 43


class Store:
    def active_secrets(self, tenant_id):
        return [SECRET] if tenant_id == "acme" else []


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


def test_send_example_signs_the_exact_bytes_and_prints_the_answer(capsys, gateway_url):
    code, out, _ = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--secret", SECRET,
                       "--url", gateway_url, "--example")
    assert code == 0
    answer = json.loads(out)
    assert answer == {"status": 202, "body": {"event_id": event_id("acme", "transaction.created", "FACT-00123"),
                                              "status": "accepted", "duplicate": False}}


def test_send_a_file_in_text_mode(capsys, gateway_url, tmp_path):
    path = tmp_path / "sale.json"
    path.write_bytes(TRANSACTION_CREATED.read_bytes())
    code, out, _ = run(capsys, "webhook", "send", "--tenant", "acme", "--secret", SECRET, "--url", gateway_url, str(path))
    assert code == 0 and out.startswith("HTTP 202\n") and '"status": "accepted"' in out


def test_a_refusal_exits_1_and_shows_the_problem(capsys, gateway_url):
    code, out, _ = run(capsys, "--json", "webhook", "send", "--tenant", "acme", "--secret", "whsec_wrong",
                       "--url", gateway_url, "--example")
    assert code == 1
    assert json.loads(out)["body"]["code"] == "invalid-signature"


def test_url_from_public_base_url_and_unreachable_is_one_line(capsys, monkeypatch):
    from devstack.ports import free_port

    monkeypatch.setenv("PUBLIC_BASE_URL", f"http://127.0.0.1:{free_port()}")
    code, _, err = run(capsys, "webhook", "send", "--tenant", "acme", "--secret", SECRET, "--example")
    assert code == 1 and err.startswith("autentikapp: cannot reach http://127.0.0.1:") and len(err.splitlines()) == 1


def test_a_missing_file_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "webhook", "send", "--tenant", "acme", "--secret", SECRET, str(tmp_path / "nope.json"))
    assert code == 1 and err.strip().endswith("nope.json: no such file")


def test_the_example_is_the_guide_example_without_comments():
    doc = json.loads(TRANSACTION_CREATED.read_bytes())
    assert doc["transaction_data"]["line_items"][0]["autentikapp_code"] == "a1b2c3d4-e5f6-7890-1234-567890abcdef"
    assert b"//" not in TRANSACTION_CREATED.read_bytes()
    assert b"950000.00" in TRANSACTION_CREATED.read_bytes()  # the numbers as the guide writes them
