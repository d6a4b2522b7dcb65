"""Configuración > Integraciones > Webhooks: the endpoint, the accepted signature schemes and the
signing secrets (create: shown once; rotate: create, switch, revoke; revoke).

Every read and change goes through the gateway's API (dashboard.gateway_api.TenantAdmin) for the
signed-in user's tenant. A secret's value is in the answer to its creation only: never stored, logged
or audited here.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from common.errors import FailedPrecondition
from dashboard import gateway_api, web
from dashboard.audit import Actor

bp = Blueprint("webhooks", __name__, url_prefix="/configuracion/integraciones/webhooks")


def _render(status: int = 200, *, issued: gateway_api.IssuedSecret | None = None, revoked: int | None = None,
            error: str | None = None):
    deps = web.deps()
    tenant_id = web.current().user.tenant_id
    settings = deps.tenant_admin.tenant_settings(tenant_id)
    secrets = deps.tenant_admin.list_secrets(tenant_id)
    return render_template(
        "webhooks.html", settings=settings, issued=issued, revoked=revoked, error=error,
        endpoint_url=gateway_api.endpoint_url(deps.public_base_url, tenant_id),
        secrets=[s for s in secrets if s.platform == gateway_api.WEBHOOK_SENDER],
        platforms=sorted({s.platform for s in secrets if s.active and s.platform != gateway_api.WEBHOOK_SENDER}),
        has_active=any(s.active for s in secrets if s.platform == gateway_api.WEBHOOK_SENDER),
    ), status


@bp.get("")
@web.signed_in
def page():
    revoked = request.args.get("revoked", "")
    return _render(revoked=int(revoked) if revoked.isdigit() else None)


@bp.post("/secrets")
@web.admin_only
def create_secret():
    """Create a secret and show it on this answer only (not a redirect: it is stored nowhere to show later)."""
    session = web.current()
    deps = web.deps()
    issued = deps.tenant_admin.create_secret(session.user.tenant_id)
    deps.users.record(session.user.tenant_id, Actor.user(session.user.id, session.user.email), "secret.created",
                      target=f"secret:{issued.id}", details={"secret_id": issued.id})
    return _render(201, issued=issued)


@bp.post("/secrets/<int:secret_id>/revoke")
@web.admin_only
def revoke_secret(secret_id: int):
    """Revoke one of the tenant's secrets; another tenant's id is NotFound from the gateway (404)."""
    session = web.current()
    deps = web.deps()
    try:
        deps.tenant_admin.revoke_secret(session.user.tenant_id, secret_id)
    except FailedPrecondition:  # its last active secret: every sale would stop (the gateway refuses it)
        return _render(409, error=web.t("revoke_last_refused", id=secret_id))
    deps.users.record(session.user.tenant_id, Actor.user(session.user.id, session.user.email), "secret.revoked",
                      target=f"secret:{secret_id}", details={"secret_id": secret_id})
    return redirect(url_for("webhooks.page", revoked=secret_id), 303)
