"""Log lines: the masks for personal data, and the JSON fields that let `grep evt_...` follow an event."""

from __future__ import annotations

import json
import logging

import pytest

from common import logs


@pytest.mark.parametrize("value,masked", [
    ("juan.perez@correo-tienda.co", "j***@correo-tienda.co"),
    ("a@b.co", "a***@b.co"),
    ("not-an-address", "***"),
    ("@correo-tienda.co", "***"),
    ("", ""),
])
def test_an_email_keeps_its_first_character_and_domain(value, masked):
    assert logs.mask_email(value) == masked


@pytest.mark.parametrize("value,masked", [
    ("+573001112233", "***2233"),
    ("+57 300 111 2233", "***2233"),
    ("1234567", "***67"),
    ("123", "***"),
    ("", ""),
])
def test_a_phone_number_keeps_its_last_four_or_two_digits(value, masked):
    assert logs.mask_phone(value) == masked


@pytest.mark.parametrize("value,masked", [
    ("ZQ8675309K", "***09K"),
    ("1234567", "***67"),
    ("123", "***"),
    ("", ""),
])
def test_a_national_id_keeps_its_last_three_or_two_characters(value, masked):
    assert logs.mask_national_id(value) == masked


def test_masked_contact_masks_the_contact_fields_and_drops_names_and_blanks():
    buyer = {"national_id": "ZQ8675309K", "email": "zq@buzon.co", "phone_number": "+573001112233",
             "whatsapp_number": "", "first_name": "Zebulonia", "last_name": "Quixotefield"}
    assert logs.masked_contact(buyer) == {"national_id": "***09K", "email": "z***@buzon.co",
                                          "phone_number": "***2233"}


def test_a_json_line_carries_the_event_and_tenant_ids_as_fields():
    record = logging.LogRecord("customer_service", logging.INFO, __file__, 1, "event %s: customer created",
                               ("evt_1",), None)
    for key, value in logs.event_extra("evt_1", "acme", customer="created", clashes=0).items():
        setattr(record, key, value)
    line = json.loads(logs.JsonFormatter("customer_service").format(record))
    assert line["event_id"] == "evt_1" and line["tenant_id"] == "acme"
    assert line["msg"] == "event evt_1: customer created"
    assert (line["customer"], line["clashes"]) == ("created", 0)


def _record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("gateway.access", logging.INFO, __file__, 1, "POST %s", ("/x",), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_the_text_line_reads_as_loggings_own_across_seconds():
    """TextFormatter formats each second once; every line still reads exactly as logging.Formatter's,
    within a second and across the next one."""
    fmt = "%(asctime)s gateway %(levelname)s %(name)s: %(message)s"
    ours, standard = logs.TextFormatter(fmt), logging.Formatter(fmt)
    for created in (1_700_000_000.001, 1_700_000_000.998, 1_700_000_001.5, 1_700_000_000.25, 1_800_000_000.0):
        record = _record_at(created)
        assert ours.format(record) == standard.format(record)


def test_the_json_time_is_utc_to_the_millisecond_across_seconds():
    formatter = logs.JsonFormatter("gateway")
    stamps = [json.loads(formatter.format(_record_at(t)))["ts"] for t in (1_700_000_000.5, 1_700_000_001.042)]
    assert stamps == ["2023-11-14T22:13:20.500Z", "2023-11-14T22:13:21.042Z"]


def test_configure_keeps_every_field_its_formats_show(capsys):
    """After configure(), records no longer carry their source line, thread or process (not collected),
    and a line still shows time, service, level, logger and message, in either format."""
    root = logging.getLogger()
    handlers, level, srcfile = root.handlers[:], root.level, logging._srcfile
    try:
        logs.configure("gateway", "INFO", "json")
        logging.getLogger("gateway.access").info("POST %s %d", "/x", 202)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert (line["service"], line["level"], line["logger"], line["msg"]) == ("gateway", "info", "gateway.access",
                                                                                 "POST /x 202")
        record = logging.getLogger("x").makeRecord("x", logging.INFO, "(unknown file)", 0, "m", (), None)
        assert record.threadName is None and record.processName is None
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging._srcfile = srcfile
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = True
