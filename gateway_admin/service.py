"""TenantAdminService's logic, one tenant per call: the gateway's tenants store (sync psycopg, run in
threads), its refused requests (gateway.refusals), the dead letters on the bus (read and replayed as
processor.dead_letter_admin does for the operator), and test sales through the gateway's own HTTP door.

Every call is scoped to the tenant it names: a secret id or dead-letter sequence of another tenant is
NotFound, exactly as an unknown one."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from psycopg_pool import ConnectionPool

from autentikapp.v1 import events_pb2
from common import bus
from common.dead_letter_message import DeadLetter
from common.errors import FailedPrecondition, NotFound, Unavailable
from gateway import refusals
from gateway.senders import WEBHOOK
from gateway.tenants import NewSecret, SecretInfo, Tenant, TenantStore
from gateway_admin import test_sale
from processor import dead_letter_admin
from processor.work import transaction_and_type

log = logging.getLogger(__name__)
MAX_DEAD_LETTERS = 200  # listed per call, oldest first


@dataclass(frozen=True)
class TenantView:
    """What the dashboard shows of a tenant."""

    tenant: Tenant
    require_timestamped: bool
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class DeadLetterView:
    """A dead letter without its bytes, with the transaction id read from them when they decode."""

    entry: DeadLetter
    transaction_id: str


def transaction_of(data: bytes) -> str:
    """The sale's or release's transaction id in a work message's bytes ("" when they do not decode)."""
    event = events_pb2.WebhookEvent()
    try:
        event.ParseFromString(data)
    except DecodeError:
        return ""
    return transaction_and_type(event)[0] or ""


class TenantAdmin:
    """The service behind the gRPC API (gateway_admin/grpc_api.py)."""

    def __init__(self, store: TenantStore, pool: ConnectionPool, js: JetStreamContext, *, gateway_url: str,
                 timeout: float):
        self._store = store
        self._pool = pool
        self._js = js
        self._gateway_url = gateway_url
        self._timeout = timeout

    async def tenant(self, tenant_id: str) -> TenantView:
        tenant = await asyncio.to_thread(self._store.get_tenant, tenant_id)
        senders = await asyncio.to_thread(self._store.senders, tenant_id, with_secrets=False)
        return TenantView(tenant, senders.require_timestamped, tuple(sorted(senders.platforms)))

    async def list_secrets(self, tenant_id: str) -> list[SecretInfo]:
        await asyncio.to_thread(self._store.get_tenant, tenant_id)  # NotFound for an unknown tenant
        secrets = await asyncio.to_thread(self._store.list_secrets, tenant_id)
        return sorted(secrets, key=lambda s: s.id, reverse=True)

    async def create_secret(self, tenant_id: str) -> NewSecret:
        return await asyncio.to_thread(self._store.add_secret, tenant_id, WEBHOOK)

    async def revoke_secret(self, tenant_id: str, secret_id: int) -> SecretInfo:
        return await asyncio.to_thread(self._store.revoke_secret, tenant_id, secret_id, keep_one_active=True)

    async def send_test_sale(self, tenant_id: str) -> test_sale.TestSaleResult:
        await asyncio.to_thread(self._store.get_tenant, tenant_id)
        active = await asyncio.to_thread(self._store.active_secrets, tenant_id, WEBHOOK)
        if not active:
            raise FailedPrecondition("the tenant has no active secret to sign with: create one first")
        result = await asyncio.to_thread(test_sale.send, self._gateway_url, tenant_id, active[0], self._timeout)
        log.info("test sale for tenant %s: HTTP %d %s", tenant_id, result.http_status,
                 result.event_id or result.problem_code)
        return result

    async def refused_requests(self, tenant_id: str, page_size: int, page_token: str):
        return await asyncio.to_thread(refusals.list_refused, self._pool, tenant_id, page_size, page_token)

    async def dead_letters(self, tenant_id: str) -> list[DeadLetterView]:
        found: list[DeadLetterView] = []
        try:
            async for entry in dead_letter_admin.entries(self._js, tenant_id=tenant_id):
                found.append(DeadLetterView(entry, transaction_of(entry.data)))
                if len(found) == MAX_DEAD_LETTERS:
                    break
        except dead_letter_admin.NatsFailure as exc:
            raise Unavailable(f"the bus cannot list dead letters now ({dead_letter_admin.describe(exc)})") from None
        return found

    async def replay_dead_letter(self, tenant_id: str, sequence: int) -> dead_letter_admin.Replayed:
        entry = await self._entry(tenant_id, sequence)
        try:
            replayed = await dead_letter_admin.replay_entry(self._js, entry, self._timeout)
        except dead_letter_admin.ReplayRefused as exc:
            raise FailedPrecondition(str(exc)) from None
        except dead_letter_admin.NatsFailure as exc:
            raise Unavailable(f"the bus did not take the replay ({dead_letter_admin.describe(exc)}); "
                              "the dead letter is still there: try again") from None
        log.info("replayed dead letter %d of tenant %s (event %s)", sequence, tenant_id, entry.event_id)
        return replayed

    async def _entry(self, tenant_id: str, sequence: int) -> DeadLetter:
        """The tenant's dead letter at `sequence`; NotFound for a missing one or another tenant's."""
        try:
            raw = await self._js.get_msg(bus.DEAD_LETTER_STREAM, sequence)
        except NotFoundError:
            raise NotFound(f"no dead letter {sequence} for tenant {tenant_id}") from None
        except dead_letter_admin.NatsFailure as exc:
            raise Unavailable(f"the bus cannot read dead letters now ({dead_letter_admin.describe(exc)})") from None
        entry = DeadLetter.from_raw(raw)
        if entry.tenant_id != tenant_id or raw.subject != bus.dead_letter_subject_for(tenant_id):
            raise NotFound(f"no dead letter {sequence} for tenant {tenant_id}")
        return entry
