"""GET /healthz (the process is alive) and GET /readyz (its database answers), for devstack, Compose and
Kubernetes. Neither needs a session nor says anything about a tenant."""

from __future__ import annotations

from flask import Blueprint, jsonify

from dashboard import web

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 while the dashboard's database answers, else 503."""
    if web.deps().users.ping():
        return jsonify(status="ready")
    return jsonify(status="not ready", checks={"dashboard_db": "unavailable"}), 503
