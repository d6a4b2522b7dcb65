"""The tenant's people, for its admins: who has access with which role, adding someone (with a first
password the admin hands over), disabling someone (their sessions end at once), and the audit log of
every change made through the dashboard (who, what, when)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from dashboard import web
from dashboard.audit import Actor
from dashboard.users import ROLES

bp = Blueprint("users", __name__, url_prefix="/configuracion/usuarios")


def _render(status: int = 200, *, error: str | None = None, email: str = "", role: str = "viewer",
            done: str = ""):
    deps = web.deps()
    tenant_id = web.current().user.tenant_id
    return render_template("users.html", users=deps.users.list_users(tenant_id), roles=ROLES,
                           audit=deps.users.audit_entries(tenant_id, limit=50), error=error, email=email, role=role,
                           done=done), status


@bp.get("")
@web.admin_only
def page():
    return _render(done=request.args.get("hecho", "")[:32])


@bp.post("")
@web.admin_only
def create():
    session = web.current()
    email = request.form.get("email", "").strip()[:320]
    role = request.form.get("role", "viewer")
    try:
        web.deps().users.create_user(session.user.tenant_id, email, request.form.get("password", ""), role,
                                     Actor.user(session.user.id, session.user.email))
    except AlreadyExists:
        return _render(422, error=web.t("user_error_exists"), email=email, role=role)
    except InvalidArgument as exc:
        key = f"user_error_{exc.field}" if exc.field in ("email", "password", "role") else None
        return _render(422, error=web.t(key) if key else str(exc), email=email, role=role)
    return redirect(url_for("users.page", hecho="created"), 303)


@bp.post("/<int:user_id>/desactivar")
@web.admin_only
def disable(user_id: int):
    session = web.current()
    try:
        web.deps().users.disable_user(session.user.tenant_id, user_id, Actor.user(session.user.id, session.user.email))
    except FailedPrecondition:  # one's own account: a tenant must not lock out its last admin by accident
        return _render(409, error=web.t("user_error_self"))
    return redirect(url_for("users.page", hecho="disabled"), 303)
