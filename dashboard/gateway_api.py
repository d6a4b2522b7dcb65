"""What the dashboard needs from the gateway, through its internal admin API (gateway_admin,
TenantAdminService over mutual TLS as role `dashboard`): the gateway owns tenants, signing secrets,
refused requests and the dead letters' replay, and no process reads another's tables
(docs/design.md, Architecture).

`TenantAdmin` is that interface, for one tenant at a time: the tenant a view passes is always the
signed-in user's (dashboard/web.py). `GrpcTenantAdmin` is the real one; the unit tests use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import grpc

from autentikapp.v1 import tenant_admin_pb2 as pb, tenant_admin_pb2_grpc
from common.timestamps import to_datetime
from dashboard import rpc

INBOUND_PATH = "/v1/webhooks/inbound/"
STANDARD_WEBHOOKS = "standard-webhooks"
GUIDE = "autentikapp"  # the guide's X-Autentikapp-Signature (gateway/signature.py)
WEBHOOK_SENDER = "autentikapp"  # a secret of the tenant's own systems (gateway/senders.py WEBHOOK)
WHAT = "the gateway's admin API"


def endpoint_url(public_base_url: str, tenant_id: str) -> str:
    """Where the tenant's systems send their sales: PUBLIC_BASE_URL + /v1/webhooks/inbound/<tenant>."""
    return public_base_url.rstrip("/") + INBOUND_PATH + tenant_id


@dataclass(frozen=True)
class TenantSettings:
    """The tenant's facts the page shows: its name and whether it refuses the guide's untimestamped
    signature (`autentikapp tenants signing ID --require-timestamped`)."""

    tenant_id: str
    name: str
    require_timestamped: bool

    @property
    def accepted_schemes(self) -> tuple[str, ...]:
        """The signature schemes of the tenant's own systems the gateway accepts, recommended first."""
        return (STANDARD_WEBHOOKS,) if self.require_timestamped else (STANDARD_WEBHOOKS, GUIDE)


@dataclass(frozen=True)
class SecretMetadata:
    """A signing secret without its value."""

    id: int
    created_at: datetime
    revoked_at: datetime | None
    platform: str = WEBHOOK_SENDER

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedSecret:
    """A secret just created: the only time its value reaches the dashboard, which shows it once and
    keeps it nowhere. Hidden from repr."""

    id: int
    created_at: datetime
    secret: str = field(repr=False)
    platform: str = WEBHOOK_SENDER


@dataclass(frozen=True)
class TestSale:
    """What the gateway answered to a test sale."""

    __test__ = False  # not a pytest test class

    http_status: int
    transaction_id: str
    event_id: str = ""
    problem_code: str = ""
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return 200 <= self.http_status < 300


@dataclass(frozen=True)
class RefusedRequest:
    """A request the gateway refused: why, never what it carried."""

    received_at: datetime
    http_status: int
    code: str
    reason: str
    fields: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered event of the tenant (replayed by its sequence)."""

    sequence: int
    event_id: str
    transaction_id: str
    reason: str
    dead_lettered_at: datetime | None
    deliveries: int
    replays: int


class TenantAdmin(Protocol):
    """The gateway's tenant administration, for one tenant at a time. Raises common.errors.NotFound for a
    tenant, secret or dead letter it does not have (another tenant's included), FailedPrecondition for a
    change it refuses (the last active secret), Unavailable when the gateway cannot be reached."""

    def tenant_settings(self, tenant_id: str) -> TenantSettings: ...

    def list_secrets(self, tenant_id: str) -> list[SecretMetadata]: ...

    def create_secret(self, tenant_id: str) -> IssuedSecret: ...

    def revoke_secret(self, tenant_id: str, secret_id: int) -> SecretMetadata: ...

    def send_test_sale(self, tenant_id: str) -> TestSale: ...

    def refused_requests(self, tenant_id: str, page_token: str = "") -> tuple[list[RefusedRequest], str]: ...

    def dead_letters(self, tenant_id: str) -> list[DeadLetter]: ...

    def replay_dead_letter(self, tenant_id: str, sequence: int) -> str: ...


def _secret(message: pb.SecretMetadata) -> SecretMetadata:
    return SecretMetadata(message.id, to_datetime(message.created_at),
                          to_datetime(message.revoked_at) if message.HasField("revoked_at") else None,
                          message.platform or WEBHOOK_SENDER)


class GrpcTenantAdmin:
    """TenantAdmin over the gateway's admin API (one channel per gunicorn worker)."""

    def __init__(self, channel: grpc.Channel, page_size: int = 50):
        self._stub = tenant_admin_pb2_grpc.TenantAdminServiceStub(channel)
        self._page_size = page_size

    def tenant_settings(self, tenant_id: str) -> TenantSettings:
        answer = rpc.call(WHAT, self._stub.GetTenant, pb.GetTenantRequest(tenant_id=tenant_id))
        return TenantSettings(answer.tenant_id, answer.name, answer.require_timestamped_signatures)

    def list_secrets(self, tenant_id: str) -> list[SecretMetadata]:
        answer = rpc.call(WHAT, self._stub.ListSecrets, pb.ListSecretsRequest(tenant_id=tenant_id))
        return [_secret(s) for s in answer.secrets]

    def create_secret(self, tenant_id: str) -> IssuedSecret:
        answer = rpc.call(WHAT, self._stub.CreateSecret, pb.CreateSecretRequest(tenant_id=tenant_id))
        return IssuedSecret(answer.metadata.id, to_datetime(answer.metadata.created_at), answer.secret,
                            answer.metadata.platform or WEBHOOK_SENDER)

    def revoke_secret(self, tenant_id: str, secret_id: int) -> SecretMetadata:
        answer = rpc.call(WHAT, self._stub.RevokeSecret, pb.RevokeSecretRequest(tenant_id=tenant_id,
                                                                               secret_id=secret_id))
        return _secret(answer.metadata)

    def send_test_sale(self, tenant_id: str) -> TestSale:
        answer = rpc.call(WHAT, self._stub.SendTestSale, pb.SendTestSaleRequest(tenant_id=tenant_id))
        return TestSale(answer.http_status, answer.transaction_id, answer.event_id, answer.problem_code,
                        answer.detail)

    def refused_requests(self, tenant_id: str, page_token: str = "") -> tuple[list[RefusedRequest], str]:
        answer = rpc.call(WHAT, self._stub.ListRefusedRequests, pb.ListRefusedRequestsRequest(
            tenant_id=tenant_id, page_size=self._page_size, page_token=page_token))
        return [RefusedRequest(to_datetime(r.received_at), r.http_status, r.code, r.reason, tuple(r.fields), r.source)
                for r in answer.requests], answer.next_page_token

    def dead_letters(self, tenant_id: str) -> list[DeadLetter]:
        answer = rpc.call(WHAT, self._stub.ListDeadLetters, pb.ListDeadLettersRequest(tenant_id=tenant_id))
        return [DeadLetter(d.sequence, d.event_id, d.transaction_id, d.reason,
                           to_datetime(d.dead_lettered_at) if d.HasField("dead_lettered_at") else None,
                           d.deliveries, d.replays) for d in answer.dead_letters]

    def replay_dead_letter(self, tenant_id: str, sequence: int) -> str:
        answer = rpc.call(WHAT, self._stub.ReplayDeadLetter, pb.ReplayDeadLetterRequest(tenant_id=tenant_id,
                                                                                       sequence=sequence))
        return answer.event_id
