"""The dashboard's "send a test sale": the integration guide's example sale, with a fresh transaction id
and the time of sending, signed with Standard Webhooks (which every tenant accepts) with one of the
tenant's active secrets, and posted to the gateway over HTTP exactly as the tenant's systems would. The
gateway then verifies, validates and publishes it like any other sale, so its outcome shows on the
dashboard when the processor has done its work."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone

from cli.examples import TRANSACTION_CREATED
from common import http_post
from common.errors import Unavailable
from gateway import standard_webhooks

TRANSACTION_PREFIX = "PRUEBA-"


@dataclass(frozen=True)
class TestSaleResult:
    """What the gateway answered."""

    __test__ = False  # not a pytest test class

    http_status: int
    transaction_id: str
    event_id: str = ""
    problem_code: str = ""
    detail: str = ""


def example_body(now: datetime) -> tuple[str, bytes]:
    """The guide's example with a transaction id of its own (PRUEBA-<time>-<random>) and `now` as its time."""
    sale = json.loads(TRANSACTION_CREATED.read_text(encoding="utf-8"))
    transaction_id = f"{TRANSACTION_PREFIX}{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    sale["transaction_data"]["transaction_id"] = transaction_id
    sale["event_timestamp"] = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return transaction_id, json.dumps(sale, ensure_ascii=False).encode("utf-8")


def send(gateway_url: str, tenant_id: str, secret: str, timeout: float,
         now: datetime | None = None) -> TestSaleResult:
    """Sign and post the example; any HTTP answer is a result, a gateway that cannot be reached Unavailable."""
    transaction_id, body = example_body(now or datetime.now(timezone.utc))
    headers = {"Content-Type": "application/json",
               **standard_webhooks.signed_headers(secret, body, "msg_test_" + secrets.token_urlsafe(12),
                                                  int(time.time()))}
    url = f"{gateway_url}/v1/webhooks/inbound/{urllib.parse.quote(tenant_id, safe='')}"
    try:
        status, answer = http_post.post(url, body, headers, timeout)
    except http_post.Unreachable as exc:
        raise Unavailable(f"the gateway at {gateway_url} cannot be reached ({exc})") from None
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = {}
    parsed = parsed if isinstance(parsed, dict) else {}
    if 200 <= status < 300:
        return TestSaleResult(status, transaction_id, event_id=str(parsed.get("event_id", "")))
    return TestSaleResult(status, transaction_id, problem_code=str(parsed.get("code", "")),
                          detail=str(parsed.get("detail", ""))[:500])
