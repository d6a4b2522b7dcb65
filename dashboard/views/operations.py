"""Why a sale did not arrive, or did not finish: the requests the gateway refused for the tenant (reason
and failing fields, never the body; kept for a bounded time) and the tenant's dead-lettered events,
which an admin can replay. Both through the gateway's admin API (dashboard.gateway_api)."""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for

from dashboard import web
from dashboard.audit import Actor

EVENT_ID = re.compile(r"evt_[0-9a-f]{32}")
bp = Blueprint("operations", __name__, url_prefix="/configuracion/integraciones/webhooks")


@bp.get("/rechazadas")
@web.signed_in
def refused():
    page_token = request.args.get("pagina", "")[:512]
    rows, next_token = web.deps().tenant_admin.refused_requests(web.current().user.tenant_id, page_token)
    return render_template("refused.html", rows=rows, next_token=next_token, first_page=not page_token)


@bp.get("/fallidos")
@web.signed_in
def dead_letters():
    replayed = request.args.get("reintentado", "")
    replayed = replayed if EVENT_ID.fullmatch(replayed) else ""  # a notice nobody can word through a link
    rows = web.deps().tenant_admin.dead_letters(web.current().user.tenant_id)
    return render_template("dead_letters.html", rows=rows, replayed=replayed)


@bp.post("/fallidos/<int:sequence>/reintentar")
@web.admin_only
def replay(sequence: int):
    """Replay one dead letter of the tenant (another tenant's sequence is NotFound from the gateway: 404)."""
    session = web.current()
    deps = web.deps()
    event_id = deps.tenant_admin.replay_dead_letter(session.user.tenant_id, sequence)
    deps.users.record(session.user.tenant_id, Actor.user(session.user.id, session.user.email), "dead_letter.replayed",
                      target=f"event:{event_id}", details={"sequence": sequence})
    return redirect(url_for("operations.dead_letters", reintentado=event_id), 303)
