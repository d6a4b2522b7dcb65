"""common.bus.read_pub_ack: JetStream's answer to a publish, read as nats-py's js.publish reads it (the
gateway's publisher and the processor's domain events both use it)."""

from __future__ import annotations

from types import SimpleNamespace

import nats.errors
import pytest
from nats.js.errors import APIError, ServiceUnavailableError

from common import bus


def answer(data: bytes, headers: dict | None = None):
    return SimpleNamespace(data=data, headers=headers)


def test_a_pub_ack_gives_its_duplicate_flag_and_sequence():
    assert bus.read_pub_ack(answer(b'{"stream":"WEBHOOKS","seq":7}')) == bus.PubAck(False, 7)
    assert bus.read_pub_ack(answer(b'{"stream":"WEBHOOKS","seq":3,"duplicate":true}')) == bus.PubAck(True, 3)
    assert bus.read_pub_ack(answer(b'{"stream":"WEBHOOKS","seq":"x"}')) == bus.PubAck(False, 0)


def test_no_responders_is_nats_pys_error():
    with pytest.raises(nats.errors.NoRespondersError):
        bus.read_pub_ack(answer(b"", {"Status": "503"}))


def test_an_error_answer_is_its_api_error_subclass():
    with pytest.raises(ServiceUnavailableError) as refused:
        bus.read_pub_ack(answer(b'{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}'))
    assert refused.value.err_code == 10077


@pytest.mark.parametrize("data", [b"not json", b"[1]", b'{"error":"flat"}', b'{"error":{"unknown":1}}'])
def test_anything_else_is_a_plain_api_error(data):
    with pytest.raises(APIError, match="PubAck|malformed"):
        bus.read_pub_ack(answer(data))
