"""What became of the tenant's sales: recent events with each line item's outcome (filterable,
paginated), one event's page, and "send a test sale", which lands on that page and shows the outcome
when the processor has recorded it.

Outcomes come from the processor's API (dashboard.outcomes_api), the test sale from the gateway's
(dashboard.gateway_api): always for the signed-in user's tenant.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from common.errors import NotFound
from dashboard import outcomes_api, web
from dashboard.audit import Actor
from dashboard.outcomes_api import EventFilter

bp = Blueprint("events", __name__, url_prefix="/configuracion/integraciones/webhooks")
PENDING_REFRESH_SECONDS = 2


def _filters() -> EventFilter:
    """The filters of the query string; an unknown status or outcome is ignored (shown as "any")."""
    status = request.args.get("estado", "")
    outcome = request.args.get("resultado", "")
    return EventFilter(
        status=status if status in outcomes_api.STATUSES else "",
        outcome=outcome if outcome in outcomes_api.LINE_ITEM_OUTCOMES else "",
        transaction_id=request.args.get("transaccion", "").strip()[:128],
    )


@bp.get("/eventos")
@web.signed_in
def recent():
    filters = _filters()
    page_token = request.args.get("pagina", "")[:512]
    rows, next_token = web.deps().event_outcomes.list_events(web.current().user.tenant_id, filters, page_token)
    return render_template("events.html", rows=rows, filters=filters, next_token=next_token,
                           first_page=not page_token, statuses=outcomes_api.STATUSES,
                           outcomes=outcomes_api.LINE_ITEM_OUTCOMES)


@bp.get("/eventos/<event_id>")
@web.signed_in
def event(event_id: str):
    """One event; until the processor has recorded it (or for an id the tenant does not have: the same
    answer, so nothing is learnt about other tenants) a page that refreshes itself."""
    try:
        row = web.deps().event_outcomes.get_event(web.current().user.tenant_id, event_id[:64])
    except NotFound:
        return render_template("event.html", row=None, event_id=event_id[:64],
                               refresh_seconds=PENDING_REFRESH_SECONDS)
    return render_template("event.html", row=row, event_id=row.event_id, refresh_seconds=None)


@bp.post("/venta-de-prueba")
@web.admin_only
def send_test_sale():
    """Sign the guide's example with the tenant's secret and send it through the gateway; on acceptance go
    to its event's page, else show what the gateway answered."""
    session = web.current()
    deps = web.deps()
    result = deps.tenant_admin.send_test_sale(session.user.tenant_id)
    deps.users.record(session.user.tenant_id, Actor.user(session.user.id, session.user.email), "test_sale.sent",
                      target=f"event:{result.event_id}" if result.event_id else "",
                      details={"transaction_id": result.transaction_id, "http_status": result.http_status})
    if result.accepted:
        return redirect(url_for("events.event", event_id=result.event_id), 303)
    return render_template("test_sale_refused.html", result=result), 200
