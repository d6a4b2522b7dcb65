"""The operator's side of the dead-letter stream (WEBHOOKS_DEAD): list its entries, replay them.

processor/dead_lettering.py puts messages there; this module reads and replays them, for `autentikapp dlq`.

Reading never changes the stream: entries are fetched one at a time with JetStream's message-get API
(the next message at or after a sequence, on a subject filter), so nothing is consumed, acked or
deleted, and no consumer, durable or ephemeral, is created.

Replaying one entry, in this order:
1. publish its original bytes to its original subject (`webhooks.inbound.<tenant>`, stream WEBHOOKS) with
   the event and tenant id headers, the content digest of its sale (`replay_digest`),
   `Autentikapp-Replays` = its earlier replays + 1, and Nats-Msg-Id =
   `<event id>:replay:<dead-letter sequence>` (common.work_message.replay_msg_id; not the event id, which is still inside
   WEBHOOKS' duplicate window and would be dropped as a duplicate);
2. wait for JetStream's PubAck;
3. delete the entry from WEBHOOKS_DEAD: a replayed entry is gone, there is no mark to keep in sync.
A crash or a lost answer between 2 and 3 leaves the entry listed. Replaying it again publishes the same
Nats-Msg-Id, which JetStream drops as a duplicate within the duplicate window (BUS_DUPLICATE_WINDOW_SECONDS,
6 h by default; the result says `duplicate`), and then deletes the entry. After the window the event
would run once more, which is harmless: processing is idempotent. An event that fails again is
dead-lettered anew: a new entry, with its new reason and its replay count (`replayed` in a listing).

Purging an erased buyer (`purge_buyer`, run by `autentikapp customers erase` after EraseCustomer): every
entry of the tenant is read as above, its bytes decoded as a WebhookEvent, and the entry is deleted when
one of its buyer's identity values has a digest the erasure listed (customer_service/erasure.py; the
digests come from the service, never the values). Entries that do not decode are left and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from google.protobuf.message import DecodeError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from autentikapp.v1 import events_pb2
from common import bus, ids, normalize, work_message
from common.dead_letter_message import DeadLetter
from common.errors import DomainError, NotFound, Unavailable
from customer_service.erasure import identity_digest
from gateway.event_ids import content_digest, content_of

# JetStream API error codes this module expects.
NO_MESSAGE = 10037  # nothing at or after the sequence (on the filter)
STREAM_NOT_FOUND = 10059  # no process has created the dead-letter stream yet: nothing dead-lettered
DELETE_FAILED = 10057  # the entry to delete is gone already (e.g. a concurrent replay removed it)

ALL_SUBJECTS = f"{bus.DEAD_LETTER_PREFIX}.>"
CLIENT_NAME = "autentikapp-dlq"

# What a NATS failure looks like while connected: connection lost, request timed out, JetStream refused.
NatsFailure = (nats.errors.Error, OSError, asyncio.TimeoutError)


class ReplayRefused(Exception):
    """This entry cannot be replayed (it names no work subject); the others can."""


@dataclass(frozen=True)
class Replayed:
    """An entry republished to the work stream and removed from the dead-letter stream."""

    entry: DeadLetter
    subject: str
    msg_id: str
    work_sequence: int  # the replay's sequence in WEBHOOKS (the earlier one's when `duplicate`)
    duplicate: bool  # JetStream had this replay already: an earlier run published it, then stopped

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "sequence": self.entry.sequence,
            "event_id": self.entry.event_id or None,
            "tenant_id": self.entry.tenant_id or None,
            "subject": self.subject,
            "msg_id": self.msg_id,
            "work_sequence": self.work_sequence,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True)
class Refused:
    """An entry left in the dead-letter stream, and why."""

    entry: DeadLetter
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"sequence": self.entry.sequence, "event_id": self.entry.event_id or None, "reason": self.reason}


@dataclass
class ReplayReport:
    """What a replay run did; `error` says why it stopped early (the entries not reached stay listed)."""

    replayed: list[Replayed] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    error: str | None = None


def replay_subject(entry: DeadLetter) -> str:
    """Where a replay goes: the entry's original subject, which must be a `webhooks.inbound.<tenant>`."""
    prefix = bus.SUBJECT_PREFIX + "."
    subject = entry.original_subject
    if not (subject.startswith(prefix) and ids.is_tenant_id(subject[len(prefix):])):
        raise ReplayRefused("its original subject is missing or not a webhooks.inbound.<tenant> subject")
    return subject


def replay_headers(entry: DeadLetter) -> dict[str, str]:
    """The replay's headers: a Nats-Msg-Id of its own, the ids the processor logs by, the replay count, and
    the content digest of its sale (see `replay_digest`)."""
    return work_message.headers(entry.event_id, entry.tenant_id, replays=entry.replays + 1,
                                msg_id=work_message.replay_msg_id(entry.event_id, entry.sequence),
                                digest=replay_digest(entry))


def replay_digest(entry: DeadLetter) -> str:
    """The content digest of the entry's sale, computed from its bytes ("" when they are not the
    WebhookEvent of the entry's event, e.g. an unreadable message).

    No gateway publish is ever compared with a replay (its Nats-Msg-Id is its own, never an event id),
    but a replay is the original work message again, byte for byte, so it carries the original's digest:
    every work message that holds a sale says which content it holds, whoever reads the stream. It is
    computed from the bytes, not copied (the dead-letter entry does not keep the header), so it cannot
    disagree with them; an entry from before digests existed gets one too.
    """
    try:
        event = events_pb2.WebhookEvent.FromString(entry.data)
    except DecodeError:
        return ""
    if not entry.event_id or event.event_id != entry.event_id or not (event.HasField("sale")
                                                                       or event.HasField("release")):
        return ""
    return content_digest(content_of(event))


async def entries(
    js: JetStreamContext, *, tenant_id: str | None = None, up_to: int | None = None
) -> AsyncGenerator[DeadLetter, None]:
    """The entries in sequence order (of one tenant when given), up to sequence `up_to` when given."""
    subject = bus.dead_letter_subject_for(tenant_id) if tenant_id else ALL_SUBJECTS
    sequence = 1
    while up_to is None or sequence <= up_to:
        try:
            raw = await js.get_msg(bus.DEAD_LETTER_STREAM, sequence, subject=subject, next=True)
        except NotFoundError as exc:
            if exc.err_code in (NO_MESSAGE, STREAM_NOT_FOUND):
                return
            raise
        if up_to is not None and raw.seq > up_to:
            return
        yield DeadLetter.from_raw(raw)
        sequence = raw.seq + 1


async def last_sequence(js: JetStreamContext) -> int:
    """The dead-letter stream's last sequence now (0 when it does not exist yet)."""
    try:
        return (await js.stream_info(bus.DEAD_LETTER_STREAM)).state.last_seq
    except NotFoundError:
        return 0


async def replay_entry(js: JetStreamContext, entry: DeadLetter, timeout: float) -> Replayed:
    """Republish one entry, wait for the PubAck, then delete it (see the module's docstring)."""
    subject = replay_subject(entry)
    headers = replay_headers(entry)
    ack = await js.publish(subject, entry.data, timeout=timeout, stream=bus.STREAM, headers=headers)
    try:
        await js.delete_msg(bus.DEAD_LETTER_STREAM, entry.sequence)
    except APIError as exc:
        if exc.err_code != DELETE_FAILED:  # anything but "it is gone already"
            raise
    return Replayed(entry, subject, headers[work_message.HEADER_MSG_ID], ack.seq, bool(ack.duplicate))


async def find(js: JetStreamContext, event_ids: Sequence[str], *, tenant_id: str | None = None,
               up_to: int | None = None) -> list[DeadLetter]:
    """Every entry of the given events; NotFound naming the events that have none."""
    wanted = set(event_ids)
    found = [entry async for entry in entries(js, tenant_id=tenant_id, up_to=up_to) if entry.event_id in wanted]
    missing = [event_id for event_id in dict.fromkeys(event_ids) if event_id not in {e.event_id for e in found}]
    if missing:
        where = f" of tenant {tenant_id}" if tenant_id else ""
        raise NotFound(f"no dead letter{where} for event{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return found


async def replay_all(js: JetStreamContext, selected: AsyncGenerator[DeadLetter, None],
                     timeout: float) -> ReplayReport:
    """Replay the selected entries one by one; a refused entry is skipped, a NATS failure stops the run."""
    report = ReplayReport()
    async with contextlib.aclosing(selected) as selection:
        async for entry in selection:
            try:
                report.replayed.append(await replay_entry(js, entry, timeout))
            except ReplayRefused as exc:
                report.refused.append(Refused(entry, str(exc)))
            except NatsFailure as exc:
                report.error = (f"stopped at dead letter {entry.sequence}: {describe(exc)}; it and the entries "
                                f"after it stay in {bus.DEAD_LETTER_STREAM} (replaying again is safe)")
                break
    return report


async def _each(items: Sequence[DeadLetter]) -> AsyncGenerator[DeadLetter, None]:
    """A list as an async iterator."""
    for item in items:
        yield item


def describe(exc: BaseException) -> str:
    """A NATS failure in a few words (JetStream's own description when it answered)."""
    if isinstance(exc, APIError) and exc.description:
        return f"JetStream answered {exc.description!r}"
    return f"NATS {type(exc).__name__}"


async def _ignore(_exc: Exception) -> None:
    """A connection error callback that stays quiet: failures surface as exceptions."""


@contextlib.asynccontextmanager
async def jetstream(settings: bus.BusSettings, timeout: float) -> AsyncIterator[JetStreamContext]:
    """A short-lived connection for one command: tries each server twice, never reconnects; a NATS
    failure becomes Unavailable with a one-line reason (no password)."""
    where = settings.url_for_logs
    try:
        nc = await bus.connect(settings, CLIENT_NAME, allow_reconnect=False, max_reconnect_attempts=1,
                               connect_timeout=max(1, round(timeout)), error_cb=_ignore)
    except NatsFailure as exc:
        if "authorization violation" in str(exc).lower():
            raise Unavailable(f"NATS at {where} refused the credentials: set NATS_USER and NATS_PASSWORD to the "
                              "operator's") from None
        raise Unavailable(f"cannot reach NATS at {where} ({type(exc).__name__}); set NATS_URL") from None
    try:
        yield nc.jetstream(timeout=timeout)
    except NatsFailure as exc:
        raise Unavailable(f"NATS at {where}: {describe(exc)}") from None
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def list_entries(settings: bus.BusSettings, *, tenant_id: str | None, limit: int,
                       timeout: float) -> tuple[list[DeadLetter], bool]:
    """Up to `limit` entries (0 = all) in sequence order, and whether more are left."""
    async with jetstream(settings, timeout) as js:
        found: list[DeadLetter] = []
        async with contextlib.aclosing(entries(js, tenant_id=tenant_id)) as listing:
            async for entry in listing:
                if limit and len(found) == limit:
                    return found, True
                found.append(entry)
        return found, False


async def replay(settings: bus.BusSettings, *, event_ids: Sequence[str] | None, tenant_id: str | None,
                 timeout: float) -> ReplayReport:
    """Replay the entries of `event_ids` (NotFound, before anything is published, when one has none), or
    every entry when `event_ids` is None; of one tenant when given.

    Only entries present at the start are replayed: an event that fails again while the run goes on
    comes back as a new entry, left for the operator to look at.
    """
    async with jetstream(settings, timeout) as js:
        up_to = await last_sequence(js)
        if event_ids is None:
            selected = entries(js, tenant_id=tenant_id, up_to=up_to)
        else:
            selected = _each(await find(js, event_ids, tenant_id=tenant_id, up_to=up_to))
        return await replay_all(js, selected, timeout)


@dataclass
class PurgeReport:
    """What a purge of an erased buyer's dead letters did; `error` says why it stopped early (the entries
    not reached are still there: purging again is safe)."""

    removed: list[DeadLetter] = field(default_factory=list)
    examined: int = 0  # the tenant's entries read
    undecodable: int = 0  # entries whose bytes are not a WebhookEvent: left, not examined
    error: str | None = None


def _normalised_forms(field_name: str, raw: str, default_country: str) -> set[str]:
    """The value as carried and, when it normalises, as the customer service stores it (the gateway
    normalises before publishing, but an entry may predate that or be the very value that was refused)."""
    forms = {raw.strip()} - {""}
    try:
        if field_name == "national_id":
            forms.add(normalize.national_id(raw))
        elif field_name == "email":
            forms.add(normalize.email(raw))
        else:
            forms.add(normalize.phone(raw, field_name, default_country or None))
    except DomainError:
        pass
    return forms - {""}


def buyer_digests(entry: DeadLetter, tenant_id: str) -> set[str] | None:
    """The suppression-list digests of the buyer of an entry's WebhookEvent (None when its bytes are not
    a WebhookEvent)."""
    try:
        event = events_pb2.WebhookEvent.FromString(entry.data)
    except DecodeError:
        return None
    buyer = event.sale.customer
    country = event.buyer_rules.default_country
    return {identity_digest(tenant_id, name, form)
            for name in ("national_id", "email", "phone_number", "whatsapp_number")
            for form in _normalised_forms(name, getattr(buyer, name), country)}


async def purge_entries(js: JetStreamContext, tenant_id: str, digests: set[str]) -> PurgeReport:
    """Delete every entry of the tenant whose buyer has one of the digests (see the module's docstring);
    read to the stream's end, so an entry dead-lettered meanwhile is looked at too."""
    report = PurgeReport()
    if not digests:
        return report
    async with contextlib.aclosing(entries(js, tenant_id=tenant_id)) as listing:
        try:
            async for entry in listing:
                report.examined += 1
                found = buyer_digests(entry, tenant_id)
                if found is None:
                    report.undecodable += 1
                    continue
                if found & digests:
                    try:
                        await js.delete_msg(bus.DEAD_LETTER_STREAM, entry.sequence)
                    except APIError as exc:
                        if exc.err_code != DELETE_FAILED:  # anything but "it is gone already"
                            raise
                    report.removed.append(entry)
        except NatsFailure as exc:
            report.error = (f"stopped after removing {len(report.removed)} dead letter(s): {describe(exc)}; "
                            f"purging again is safe")
    return report


async def purge_buyer(settings: bus.BusSettings, *, tenant_id: str, digests: Sequence[str],
                      timeout: float) -> PurgeReport:
    """Remove the tenant's dead letters that hold an erased buyer (`digests` from EraseCustomer)."""
    ids.tenant_id(tenant_id)
    async with jetstream(settings, timeout) as js:
        return await purge_entries(js, tenant_id, set(digests))
