"""What commands print: one JSON document with ``--json``, aligned ``key: value`` lines or a table otherwise.

JSON is ``MessageToDict(msg, preserving_proto_field_name=True)`` (a list for list commands), so its keys
are the proto field names. Human output shows every field in proto order, ``-`` for an unset one, and
replaces control characters (values may come from senders' webhooks) so they cannot drive the terminal.
Secrets must never reach either form: a command that handles one prints it only when explicitly asked.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
UNSET = "-"


def to_dict(message: Message) -> dict[str, Any]:
    """The message as JSON-ready data, keyed by proto field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def format_field(message: Message, name: str) -> str:
    """One field for humans: timestamps in RFC 3339 UTC, enums by name, ``-`` when unset or empty."""
    field = message.DESCRIPTOR.fields_by_name[name]
    value = getattr(message, name)
    if field.is_repeated:
        text = ", ".join(str(v) for v in value)
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        if not message.HasField(name):
            return UNSET
        if field.message_type.full_name == "google.protobuf.Timestamp":
            text = value.ToJsonString()
        else:
            text = json.dumps(to_dict(value), ensure_ascii=False)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        known = field.enum_type.values_by_number.get(value)
        text = known.name if known else str(value)
    else:
        text = str(value)
    return _CONTROL.sub("?", text) if text else UNSET


def key_values(pairs: Sequence[tuple[str, str]]) -> str:
    """Aligned ``key: value`` lines."""
    width = max((len(key) for key, _ in pairs), default=0) + 1
    return "\n".join(f"{key + ':':<{width}} {value}".rstrip() for key, value in pairs)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """A compact left-aligned table, columns two spaces apart, a header line first."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip() for row in (headers, *rows)]
    return "\n".join(lines)


def plain(value: Any) -> str:
    """A plain value for humans: ``-`` for None or empty, true/false, compact JSON for lists and objects."""
    if value is None or value == "" or value == [] or value == {}:
        return UNSET
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    else:
        text = str(value)
    return _CONTROL.sub("?", text)


class Output:
    """Prints a command's result in the mode chosen by ``--json``."""

    def __init__(self, json_mode: bool) -> None:
        """``json_mode`` selects one JSON document on stdout instead of human text."""
        self.json_mode = json_mode

    def _json(self, data: Any) -> None:
        """Write one JSON document and a newline."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def message(self, message: Message) -> None:
        """One message: its JSON object, or all its fields as aligned lines."""
        if self.json_mode:
            self._json(to_dict(message))
        else:
            names = [field.name for field in message.DESCRIPTOR.fields]
            print(key_values([(name, format_field(message, name)) for name in names]))

    def messages(self, messages: Sequence[Message], columns: Sequence[str], *, noun: str) -> None:
        """A list: a JSON array, or a table of the given fields (``no <noun>`` when empty)."""
        if self.json_mode:
            self._json([to_dict(m) for m in messages])
        elif not messages:
            print(f"no {noun}")
        else:
            print(table([[format_field(m, c) for c in columns] for m in messages], columns))

    def records(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, noun: str) -> None:
        """A list of plain records: a JSON array, or a table of the given keys (``no <noun>`` when empty)."""
        if self.json_mode:
            self._json([dict(row) for row in rows])
        elif not rows:
            print(f"no {noun}")
        else:
            print(table([[plain(row.get(column)) for column in columns] for row in rows], columns))

    def mapping(self, data: Mapping[str, Any]) -> None:
        """Plain results (counts, ...): a JSON object, or aligned lines."""
        if self.json_mode:
            self._json(dict(data))
        else:
            print(key_values([(key, _CONTROL.sub("?", str(value))) for key, value in data.items()]))

    def record(self, data: Mapping[str, Any], *, table_key: str, columns: Sequence[str]) -> None:
        """A record holding one list (an event and its line items): its JSON object, or aligned
        ``key: value`` lines followed by a table of the list's items."""
        if self.json_mode:
            self._json(dict(data))
            return
        print(key_values([(key, plain(value)) for key, value in data.items() if key != table_key]))
        items = data.get(table_key) or []
        if items:
            print()
            print(table([[plain(item.get(column)) for column in columns] for item in items], columns))

    def note(self, text: str) -> None:
        """A hint for humans on stderr (never in JSON mode, never on stdout)."""
        if not self.json_mode:
            print(text, file=sys.stderr)
