"""Helpers shared by the security tests: counting a stream's messages (real system), and in-process fakes
for the tests that drive the Flask app directly (property-based and schemathesis): the real app with
the real payload rules, a tenants store in a dict, a publisher that records."""

from __future__ import annotations

import asyncio

import nats
from flask import Flask
from nats.js.errors import NotFoundError

from common import bus, work_message
from gateway.app import create_app
from gateway.buyer_rules import BuyerRules
from gateway.publisher import Published
from gateway.senders import WEBHOOK, TenantSenders


def stream_messages(nats_url: str, stream: str = bus.STREAM) -> int:
    """How many messages a JetStream stream holds (0 when it does not exist yet)."""
    async def count() -> int:
        nc = await nats.connect(nats_url)
        try:
            return (await nc.jetstream().stream_info(stream)).state.messages
        except NotFoundError:
            return 0
        finally:
            await nc.close()

    return asyncio.run(count())


SECRET = "whsec_" + "S" * 43


class EveryTenantStore:
    """Every tenant id the gateway finds well-formed exists and has SECRET, so generated tenant ids
    reach the checks after the signature."""

    def senders(self, tenant_id: str) -> TenantSenders:
        """SECRET as the tenant's own whsec_ secret; no platform secret, timestamps not required."""
        return TenantSenders(secrets={WEBHOOK: (SECRET,)})

    def buyer_rules(self, tenant_id: str) -> BuyerRules:
        """No default country and no list of its own."""
        return BuyerRules()

    def ping(self, timeout: float = 2.0) -> bool:
        return True


class RecordingPublisher:
    """Records every publish; a message id seen before is answered as a duplicate of the first message
    stored under it (like JetStream). The stored messages are read back without their content digest, so
    any repeat of a transaction counts as a retry, never as a correction (409): these tests are about the
    payload rules, and their mutations keep the guide's transaction_id."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        self.sequences: dict[str, int] = {}

    def publish(self, subject: str, data: bytes, headers: dict[str, str], timeout: float) -> Published:
        self.calls.append((subject, data, dict(headers)))
        msg_id = headers[work_message.HEADER_MSG_ID]
        duplicate = msg_id in self.sequences
        self.sequences.setdefault(msg_id, len(self.sequences) + 1)
        return Published(duplicate, self.sequences[msg_id])

    def stored_headers(self, sequence: int, timeout: float) -> dict[str, str] | None:
        return {}

    def is_connected(self) -> bool:
        return True


def make_app(publisher: RecordingPublisher) -> Flask:
    """The real gateway app (real checks, real payload rules) on the fakes; no rate limit, no cache."""
    return create_app({"SECRET_CACHE_SECONDS": 0, "RATE_LIMIT_PER_SECOND": 0},
                      tenant_store=EveryTenantStore(), publisher=publisher)
