"""The sales the benchmark sends: the integration guide's example with three coded line items, a
distinct transaction id each, and about one sale in three made by a buyer who bought before."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from cli.examples import TRANSACTION_CREATED
from gateway import json_body, payload
from gateway.signature import HEADER, sign

TEMPLATE = json.loads(TRANSACTION_CREATED.read_text())
CODES_PER_SALE = 3


@dataclass(frozen=True)
class Sale:
    """One sale: its JSON body, the buyer's index and the codes it links."""

    body: bytes
    buyer: int
    codes: tuple[str, ...]
    email: str


def buyer_fields(index: int, prefix: str, run_no: int) -> dict:
    """The customer_data of buyer `index` (below 10**7) of run `run_no` (0-9): national id, e-mail and
    phone all distinct per buyer and per run, and all values a real buyer could have, never a filler
    the customer service ignores (common.buyer_identity): the phone's last digit is the one before it
    plus 2, so it never ends in 7 equal digits ("+57 300 000 0000") nor is a digit run."""
    return {"national_id": f"{prefix.upper()}{index:09d}", "email": f"buyer{index}@{prefix}.bench-clientes.co",
            "phone_number": f"+573{run_no % 10}{index:07d}{(index + 2) % 10}", "first_name": f"Buyer{index}",
            "last_name": "Bench"}


def sales(run: str, run_no: int, count: int, *, seed: int = 5, first_buyer: int = 0) -> list[Sale]:
    """`count` sales for run `run` (ids and codes are unique per run); one in three repeats a buyer.
    Buyers are numbered from `first_buyer`: runs of one tenant sharing a `run_no` (the phone number
    depends on the run number and the buyer's index only) must give each run its own range."""
    rng = random.Random(seed)
    out: list[Sale] = []
    buyers = first_buyer
    for n in range(count):
        if n % 3 == 2 and buyers > first_buyer:
            who = rng.randrange(first_buyer, buyers)
        else:
            who, buyers = buyers, buyers + 1
        document = json.loads(json.dumps(TEMPLATE))
        document["customer_data"] = {**document["customer_data"], **buyer_fields(who, run, run_no)}
        document["customer_data"].pop("whatsapp_number", None)
        document["transaction_data"]["transaction_id"] = f"{run}-{n:07d}"
        item = document["transaction_data"]["line_items"][0]
        codes = tuple(f"{run}-{n:07d}-{k}" for k in range(CODES_PER_SALE))
        document["transaction_data"]["line_items"] = [{**item, "product_sku": f"SKU-{k}", "autentikapp_code": code}
                                                      for k, code in enumerate(codes)]
        document["transaction_data"]["total_amount"] = item["unit_price"] * CODES_PER_SALE
        out.append(Sale(json.dumps(document).encode(), who, codes, document["customer_data"]["email"]))
    return out


def http_request(tenant: str, secret: str, body: bytes, host: str) -> bytes:
    """The whole signed HTTP/1.1 request (keep-alive), pre-encoded so the load generator only writes it."""
    head = (f"POST /v1/webhooks/inbound/{tenant} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\n{HEADER}: {sign(secret, body)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def events(tenant: str, batch: list[Sale]) -> list:
    """The WebhookEvents the gateway would publish for `batch` (its JSON parser and payload rules)."""
    received = datetime.now(timezone.utc)
    return [payload.build_event(tenant, payload.parse_sale(json_body.loads(s.body), received), s.body, received)
            for s in batch]
