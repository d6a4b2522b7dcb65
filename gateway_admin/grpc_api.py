"""The TenantAdminService gRPC servicer: proto messages in and out, gateway_admin.service in between.
Errors (NotFound, FailedPrecondition, Unavailable ...) are translated by common/grpc_server.py."""

from __future__ import annotations

from autentikapp.v1 import tenant_admin_pb2 as pb, tenant_admin_pb2_grpc
from common import ids
from common.errors import InvalidArgument
from common.timestamps import to_timestamp
from gateway import refusals
from gateway.tenants import SecretInfo
from gateway_admin.service import TenantAdmin


def tenant_of(request) -> str:
    """The request's tenant id, checked (INVALID_ARGUMENT naming the field)."""
    if not request.tenant_id:
        raise InvalidArgument("tenant_id is required", "tenant_id")
    return ids.tenant_id(request.tenant_id)


def secret_message(info: SecretInfo) -> pb.SecretMetadata:
    return pb.SecretMetadata(id=info.id, created_at=to_timestamp(info.created_at),
                             revoked_at=to_timestamp(info.revoked_at), platform=info.platform)


class TenantAdminServicer(tenant_admin_pb2_grpc.TenantAdminServiceServicer):
    """One RPC per method of TenantAdmin."""

    def __init__(self, service: TenantAdmin):
        self._service = service

    async def GetTenant(self, request, context):
        view = await self._service.tenant(tenant_of(request))
        return pb.GetTenantResponse(tenant_id=view.tenant.id, name=view.tenant.name,
                                    require_timestamped_signatures=view.require_timestamped,
                                    platforms=list(view.platforms))

    async def ListSecrets(self, request, context):
        secrets = await self._service.list_secrets(tenant_of(request))
        return pb.ListSecretsResponse(secrets=[secret_message(s) for s in secrets])

    async def CreateSecret(self, request, context):
        new = await self._service.create_secret(tenant_of(request))
        info = SecretInfo(new.id, new.tenant_id, new.created_at, None, new.platform)
        return pb.CreateSecretResponse(metadata=secret_message(info), secret=new.secret)

    async def RevokeSecret(self, request, context):
        if request.secret_id <= 0:
            raise InvalidArgument("secret_id is required", "secret_id")
        info = await self._service.revoke_secret(tenant_of(request), request.secret_id)
        return pb.RevokeSecretResponse(metadata=secret_message(info))

    async def SendTestSale(self, request, context):
        result = await self._service.send_test_sale(tenant_of(request))
        return pb.SendTestSaleResponse(http_status=result.http_status, event_id=result.event_id,
                                       transaction_id=result.transaction_id, problem_code=result.problem_code,
                                       detail=result.detail)

    async def ListRefusedRequests(self, request, context):
        page_size = request.page_size or refusals.DEFAULT_PAGE_SIZE
        found, next_token = await self._service.refused_requests(tenant_of(request), page_size, request.page_token)
        return pb.ListRefusedRequestsResponse(
            requests=[pb.RefusedRequest(received_at=to_timestamp(r.received_at), http_status=r.http_status,
                                        code=r.code, reason=r.reason, fields=list(r.fields), source=r.source)
                      for r in found],
            next_page_token=next_token or "")

    async def ListDeadLetters(self, request, context):
        found = await self._service.dead_letters(tenant_of(request))
        return pb.ListDeadLettersResponse(dead_letters=[
            pb.DeadLetter(sequence=v.entry.sequence, event_id=v.entry.event_id, reason=v.entry.reason,
                          dead_lettered_at=to_timestamp(v.entry.dead_lettered_at),
                          deliveries=v.entry.deliveries or 0, replays=v.entry.replays,
                          transaction_id=v.transaction_id)
            for v in found])

    async def ReplayDeadLetter(self, request, context):
        if request.sequence <= 0:
            raise InvalidArgument("sequence is required", "sequence")
        replayed = await self._service.replay_dead_letter(tenant_of(request), request.sequence)
        return pb.ReplayDeadLetterResponse(event_id=replayed.entry.event_id, duplicate=replayed.duplicate)
