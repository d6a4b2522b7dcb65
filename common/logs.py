"""Logging set-up shared by every process: one line per record, JSON when LOG_FORMAT=json; and the
masks for personal data, so a log line can say which buyer it is about without naming them.

A log line never carries a buyer's name, and carries an e-mail, phone number or national id only
through `mask_*` (or `masked_contact`): enough to tell buyers apart in a support case, not to
identify or contact one.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping

MASK = "***"


class _PerSecond:
    """A record time's text up to the second, formatted once per second instead of once per line (the
    strftime was a tenth of a log line's cost, and every busy process logs per event)."""

    __slots__ = ("_pattern", "_convert", "_last")

    def __init__(self, pattern: str, convert: Callable[[float], time.struct_time]):
        self._pattern, self._convert = pattern, convert
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self._last  # one tuple, read and replaced whole: safe across threads
        if last[0] != second:
            last = (second, time.strftime(self._pattern, self._convert(second)))
            self._last = last
        return last[1]


class TextFormatter(logging.Formatter):
    """The text line (logging's own format, `asctime` as "2026-11-30 21:45:03,123" in local time)."""

    def __init__(self, fmt: str):
        super().__init__(fmt)
        self._seconds = _PerSecond("%Y-%m-%d %H:%M:%S", time.localtime)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds(record.created)},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields a log pipeline indexes."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self._seconds = _PerSecond("%Y-%m-%dT%H:%M:%S", time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": f"{self._seconds(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("event_id", "tenant_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        # Structured fields a caller passes as extra={"fields": {...}} (never overriding the above).
        for key, value in (getattr(record, "fields", None) or {}).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def event_extra(event_id: str, tenant_id: str, **fields: object) -> dict[str, object]:
    """`extra` for a log call about one event: its ids (top-level JSON fields, what `grep evt_...` and a
    log pipeline follow across processes) and any structured fields."""
    return {"event_id": event_id, "tenant_id": tenant_id, "fields": fields}


def configure(service: str, level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for a process.

    Neither format shows a record's source line, thread or process, so logging is told not to collect
    them (Python's documented logging optimisation: no stack walk per record): a fifth of a line's cost,
    in processes that log a line per event."""
    logging._srcfile = None  # noqa: SLF001 - the documented switch: no findCaller() per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(TextFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def mask_email(value: str) -> str:
    """j***@example.com: the first character of the local part, then the domain ("***" without an "@")."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return MASK if value else ""
    return f"{local[0]}{MASK}@{domain}"


def mask_phone(value: str) -> str:
    """***2233: the last four digits of a full number, the last two of a short one (under 8 digits)."""
    digits = [c for c in value if c.isdigit()]
    if not digits:
        return MASK if value else ""
    keep = 4 if len(digits) >= 8 else 2 if len(digits) >= 4 else 0
    return MASK + "".join(digits[len(digits) - keep:])


def mask_national_id(value: str) -> str:
    """***09K: the last three characters of an id of 8 or more, the last two of a shorter one."""
    if len(value) <= 3:
        return MASK if value else ""
    keep = 3 if len(value) >= 8 else 2
    return MASK + value[-keep:]


# Which mask each contact field of a buyer gets; any other field (names) is never logged.
CONTACT_MASKS: dict[str, Callable[[str], str]] = {
    "national_id": mask_national_id,
    "email": mask_email,
    "phone_number": mask_phone,
    "whatsapp_number": mask_phone,
}


def masked_contact(values: Mapping[str, str]) -> dict[str, str]:
    """The contact fields present in `values` (e.g. a buyer's fields), masked; names and empty ones left out."""
    return {name: mask(values[name]) for name, mask in CONTACT_MASKS.items() if values.get(name)}
