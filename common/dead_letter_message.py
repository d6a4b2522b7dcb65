"""The dead-letter entry: a message the processor gave up on, as kept in stream WEBHOOKS_DEAD (subject
`webhooks.dead.<tenant>`, "unknown" when the message named none).

processor/dead_lettering.py writes entries and processor/dead_letter_admin.py reads them, both through
this module, so the format is spelled once.

Body: the original message's bytes, unchanged. Headers:
- `Nats-Msg-Id` = `<event id>:<work stream sequence>` (`msg_id`): a dead-letter publish repeated after a
  crash is stored once;
- `Autentikapp-Dead-Reason`: one line, no personal data;
- `Autentikapp-Original-Subject`: where the message came from (and where a replay goes);
- `Autentikapp-Deliveries`: how often it was delivered before it was given up on;
- `Autentikapp-Event-Id`, `Autentikapp-Tenant-Id` and `Autentikapp-Replays`, as in the work message
  (common/work_message.py): a message that was itself a replay keeps its count, so the entry shows
  that it came back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nats.js.api import RawStreamMsg

from common import bus, ids, work_message
from common.work_message import Identity

HEADER_REASON = "Autentikapp-Dead-Reason"
HEADER_ORIGINAL_SUBJECT = "Autentikapp-Original-Subject"
HEADER_DELIVERIES = "Autentikapp-Deliveries"


def msg_id(identity: Identity, work_sequence: int) -> str:
    """The entry's Nats-Msg-Id: stable for one message of the work stream."""
    return f"{identity.event_id or 'unknown'}:{work_sequence}"


def headers(*, identity: Identity, original_subject: str, original_headers: Mapping[str, str] | None,
            work_sequence: int, reason: str, deliveries: int) -> dict[str, str]:
    """The entry's headers (empty values left out)."""
    values = {
        work_message.HEADER_MSG_ID: msg_id(identity, work_sequence),
        HEADER_REASON: reason,
        HEADER_ORIGINAL_SUBJECT: original_subject,
        HEADER_DELIVERIES: str(deliveries),
        **work_message.headers(identity.event_id, identity.tenant_id, msg_id="",
                               replays=work_message.replays(original_headers)),
    }
    return {name: value for name, value in values.items() if value}


def tenant_of_subject(subject: str) -> str:
    """The tenant of a dead-letter subject ("" for `webhooks.dead.unknown` or anything malformed)."""
    prefix = bus.DEAD_LETTER_PREFIX + "."
    tenant_id = subject[len(prefix):] if subject.startswith(prefix) else ""
    return tenant_id if tenant_id != "unknown" and ids.is_tenant_id(tenant_id) else ""


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter stream: the original message and why it was given up on."""

    sequence: int  # in WEBHOOKS_DEAD
    event_id: str  # "" when the message could not be read
    tenant_id: str
    reason: str
    deliveries: int | None
    original_subject: str
    dead_lettered_at: datetime | None
    replays: int  # how often this message was replayed before it came back here
    data: bytes = field(default=b"", repr=False)

    @property
    def replayed(self) -> bool:
        """True when the entry came back after a replay (a replayed entry itself is deleted)."""
        return self.replays > 0

    @classmethod
    def from_raw(cls, raw: RawStreamMsg) -> "DeadLetter":
        """Read an entry as stored (see `headers`); missing or malformed headers stay empty."""
        found = raw.headers or {}

        def header(name: str) -> str:
            """One header's value, "" when absent."""
            return str(found.get(name) or "").strip()

        return cls(
            sequence=raw.seq or 0,
            event_id=header(work_message.HEADER_EVENT_ID),
            tenant_id=header(work_message.HEADER_TENANT_ID) or tenant_of_subject(raw.subject or ""),
            reason=header(HEADER_REASON),
            deliveries=work_message.count(header(HEADER_DELIVERIES)),
            original_subject=header(HEADER_ORIGINAL_SUBJECT),
            dead_lettered_at=raw.time,
            replays=work_message.replays(found),
            data=raw.data or b"",
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the message bytes."""
        return {
            "sequence": self.sequence,
            "event_id": self.event_id or None,
            "tenant_id": self.tenant_id or None,
            "reason": self.reason or None,
            "deliveries": self.deliveries,
            "original_subject": self.original_subject or None,
            "dead_lettered_at": self.dead_lettered_at.isoformat() if self.dead_lettered_at else None,
            "replayed": self.replayed,
            "replays": self.replays,
            "size": len(self.data),
        }
