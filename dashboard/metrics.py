"""What the dashboard's workers count (summed by the gunicorn master at /metrics on METRICS_PORT:
common/metrics_master.py). docs/operations.md "Metrics" explains each. Labels stay bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter

if TYPE_CHECKING:
    from dashboard.users import SignIn

SIGN_INS = Counter("autentikapp_dashboard_sign_ins",
                   "Sign-in attempts, by method (password, oidc) and result (ok, refused, locked)",
                   ["method", "result"])
PAGES_UNAVAILABLE = Counter("autentikapp_dashboard_unavailable",
                            "Requests answered 503 because a dependency (its database, the gateway's admin API, the "
                            "processor's outcomes API) could not answer")
CHANGES = Counter("autentikapp_dashboard_changes",
                  "Changes made through the dashboard, by audit action (secret.created, dead_letter.replayed ...)",
                  ["action"])


def sign_in_result(result: "SignIn") -> str:
    """ok, locked (the account or address is locked now) or refused."""
    if result.user is not None:
        return "ok"
    return "locked" if result.locked_for else "refused"
