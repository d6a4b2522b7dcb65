"""GET /healthz (the process is alive) and GET /readyz (NATS connected and the tenants store reachable)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from gateway import problems
from gateway.problems import Problem
from gateway.dependencies import dependencies

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: answering at all is the check."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when NATS is connected and the tenants database answers, else 503 naming what is not."""
    deps = dependencies()
    checks = {
        "nats": "ok" if deps.publisher.is_connected() else "unavailable",
        "tenants_db": "ok" if deps.tenant_store.ping() else "unavailable",
    }
    failing = sorted(name for name, state in checks.items() if state != "ok")
    if failing:
        raise Problem(problems.NOT_READY, f"Not ready: {', '.join(failing)} unavailable.", extra={"checks": checks})
    return jsonify(status="ready", checks=checks)
