"""The NATS users of the system and what each may publish and subscribe to: one definition, written into
the local server's configuration by devstack (`make run`, the tests) and checked against the Helm values
(tests/deploy/test_k8s_internal_plane.py), so every place runs the same rules.

Each user hears only its own replies (`_INBOX_<user>.>`, common/bus.py inbox_prefix). The gateway may
only publish work and read a stored message back; the processor consumes its consumer, dead-letters,
publishes domain events and owns the streams, and may not publish work; the operator's CLI and the gateway's
admin API (for the brands' dashboard) read, replay and delete dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from common.bus import CONSUMER, DEAD_LETTER_PREFIX, DEAD_LETTER_STREAM, DOMAIN_PREFIX, DOMAIN_STREAM, STREAM, \
    SUBJECT_PREFIX, inbox_prefix

GATEWAY = "gateway"
PROCESSOR = "processor"
OPERATOR = "operator"
GATEWAY_ADMIN = "gateway_admin"
USERS = (GATEWAY, PROCESSOR, OPERATOR, GATEWAY_ADMIN)
# devstack's own user on a local server: the tests and the dev tools look at every stream through it.
ADMIN = "admin"

_API = "$JS.API"
_STREAMS = (STREAM, DEAD_LETTER_STREAM, DOMAIN_STREAM)


def _own_replies(user: str) -> dict[str, list[str]]:
    return {"allow": [f"{inbox_prefix(user)}.>"]}


# Read, replay (publish work) and delete dead letters: the operator's CLI, and the gateway's admin API for
# the brands' dashboard (it scopes every call to one tenant itself).
_DEAD_LETTER_ADMIN = {"allow": [f"{SUBJECT_PREFIX}.>", f"{_API}.STREAM.INFO.{DEAD_LETTER_STREAM}",
                                f"{_API}.STREAM.MSG.GET.{DEAD_LETTER_STREAM}", f"{_API}.DIRECT.GET.{DEAD_LETTER_STREAM}",
                                f"{_API}.DIRECT.GET.{DEAD_LETTER_STREAM}.>",
                                f"{_API}.STREAM.MSG.DELETE.{DEAD_LETTER_STREAM}"]}

PERMISSIONS: dict[str, dict] = {
    GATEWAY: {
        "publish": {"allow": [f"{SUBJECT_PREFIX}.>", f"{_API}.STREAM.INFO.{STREAM}", f"{_API}.STREAM.MSG.GET.{STREAM}"]},
        "subscribe": _own_replies(GATEWAY),
    },
    PROCESSOR: {
        "publish": {
            "allow": [*(f"{_API}.STREAM.{verb}.{stream}" for verb in ("CREATE", "UPDATE") for stream in _STREAMS),
                      f"{_API}.CONSUMER.DURABLE.CREATE.{STREAM}.{CONSUMER}",
                      f"{_API}.CONSUMER.CREATE.{STREAM}.{CONSUMER}.>",
                      f"{_API}.CONSUMER.INFO.{STREAM}.{CONSUMER}",
                      # the dead letters' count and oldest entry's age, for the alert on their retention
                      f"{_API}.STREAM.INFO.{DEAD_LETTER_STREAM}", f"{_API}.STREAM.MSG.GET.{DEAD_LETTER_STREAM}",
                      f"{_API}.CONSUMER.MSG.NEXT.{STREAM}.{CONSUMER}",
                      f"$JS.ACK.{STREAM}.{CONSUMER}.>",
                      f"{DEAD_LETTER_PREFIX}.>", f"{DOMAIN_PREFIX}.>"],
            "deny": [f"{SUBJECT_PREFIX}.>"],
        },
        "subscribe": _own_replies(PROCESSOR),
    },
    OPERATOR: {"publish": _DEAD_LETTER_ADMIN, "subscribe": _own_replies(OPERATOR)},
    GATEWAY_ADMIN: {"publish": _DEAD_LETTER_ADMIN, "subscribe": _own_replies(GATEWAY_ADMIN)},
}


def password_variable(user: str) -> str:
    """Where a system's environment keeps a user's password for the process that connects as it
    (NATS_PASSWORD_<USER>, as the Helm chart's Secrets name them; devstack hands each process its own)."""
    return f"NATS_PASSWORD_{user.upper()}"


def server_config(passwords: Mapping[str, str]) -> str:
    """The `authorization` block of a nats-server configuration file: every user in `passwords` (the
    system's USERS with their permissions; ADMIN with none, so it may do anything)."""
    users = [{"user": user, "password": password, **({"permissions": PERMISSIONS[user]} if user in PERMISSIONS else {})}
             for user, password in passwords.items()]
    return "authorization: " + json.dumps({"users": users}, indent=2) + "\n"
