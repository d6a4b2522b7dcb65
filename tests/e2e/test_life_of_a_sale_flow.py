"""The life of a sale end to end, as a brand sends it: a signed sale, its refund and a new sale of the
same product to another buyer through the real gateway; then the whole story of the product with
`autentikapp identifiers history` and of each event with `autentikapp events show`."""

from __future__ import annotations

import json

from system_support import EXAMPLE

CODE = "a1b2c3d4-e5f6-7890-1234-567890abcdef"


def sale(transaction_id: str, email: str) -> bytes:
    body = json.loads(EXAMPLE.read_bytes())
    body["transaction_data"]["transaction_id"] = transaction_id
    body["customer_data"] = {"email": email, "first_name": "Cliente"}
    return json.dumps(body).encode()


def refund(transaction_id: str, refund_id: str) -> bytes:
    return json.dumps({"event_type": "transaction.refunded", "event_timestamp": "2025-09-14T10:15:00-05:00",
                       "transaction_data": {"transaction_id": transaction_id, "refund_id": refund_id,
                                            "line_items": [{"autentikapp_code": CODE}]}}).encode()


def test_sold_refunded_and_sold_again_with_the_whole_story_in_the_history(running_system):
    sut = running_system
    secret = sut.cli("tenants", "create", "--name", "Tienda", "--id", "tienda")["secret"]
    sut.cli("identifiers", "register", "--tenant", "tienda", CODE)

    def send(body: bytes) -> dict:
        status, _, answer = sut.send("tienda", secret, body)
        assert status == 202, answer
        return sut.outcome(answer["event_id"])

    first = send(sale("FACT-00123", "ana.gomez@correo-tienda.co"))
    returned = send(refund("FACT-00123", "NC-00045"))
    second = send(sale("FACT-00200", "luis.perez@clientes.co"))
    assert [i["outcome"] for i in first["line_items"]] == ["assigned"]
    assert [(i["code"], i["outcome"]) for i in returned["line_items"]] == [(CODE, "released")]
    assert [i["outcome"] for i in second["line_items"]] == ["assigned"]

    history = sut.cli("identifiers", "history", "--tenant", "tienda", CODE)
    assert [(h["action"], h["customer_id"], h["transaction_id"], h["event_id"]) for h in history] == [
        ("HISTORY_ACTION_LINKED", first["customer_id"], "FACT-00123", first["event_id"]),
        ("HISTORY_ACTION_RELEASED", first["customer_id"], "FACT-00123", returned["event_id"]),
        ("HISTORY_ACTION_LINKED", second["customer_id"], "FACT-00200", second["event_id"]),
    ]
    assert sut.cli("identifiers", "get", "--tenant", "tienda", CODE)["customer_id"] == second["customer_id"]

    status, _, again = sut.send("tienda", secret, refund("FACT-00123", "NC-00045"))
    assert status == 202 and again["duplicate"] is True, "a retried refund is one refund"
