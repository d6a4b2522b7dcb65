"""processor.domain_events.EffectPublisher against a real JetStream: an event's effects stored once each,
and every way a publish is refused raised as js.publish raises it (the handler's transient failures)."""

from __future__ import annotations

import asyncio

import nats
import nats.errors
import pytest
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError

from autentikapp.v1 import domain_events_pb2
from common import bus, domain_event_message
from processor.domain_events import EffectPublisher


def effect(event_id: str, code: str) -> domain_events_pb2.IdentifierEvent:
    return domain_events_pb2.IdentifierEvent(kind=domain_event_message.LINKED, tenant_id="acme", code=code,
                                             customer_id="c-1", event_id=event_id)


def with_publisher(url: str, body, *, stream: StreamConfig | None, timeout: float = 5.0):
    """Run `body(publisher, js)` with a fresh connection and, when given, the domain stream made first."""
    async def run():
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            if stream is not None:
                await js.add_stream(stream)
            return await body(await EffectPublisher(nc, timeout=timeout).start(), js)
        finally:
            await nc.close()

    return asyncio.run(run())


def domain_stream(**extra) -> StreamConfig:
    return StreamConfig(name=bus.DOMAIN_STREAM, subjects=[f"{bus.DOMAIN_PREFIX}.>"], duplicate_window=600, **extra)


def test_every_effect_is_stored_once_even_when_published_again(nats_server):
    effects = [effect("evt-1", f"code-{n}") for n in range(3)]

    async def body(publisher, js):
        await publisher.publish(effects)
        await publisher.publish(effects)  # a redelivered event: JetStream's duplicate window keeps one each
        await publisher.publish([])
        info = await js.stream_info(bus.DOMAIN_STREAM)
        stored = [await js.get_msg(bus.DOMAIN_STREAM, seq) for seq in range(1, info.state.last_seq + 1)]
        return [(m.subject, m.headers["Nats-Msg-Id"]) for m in stored]

    stored = with_publisher(nats_server.url, body, stream=domain_stream())
    assert stored == [(domain_event_message.subject_for(e), domain_event_message.msg_id(e)) for e in effects]


def test_no_domain_stream_is_no_responders_at_once(nats_server):
    async def body(publisher, js):
        with pytest.raises(nats.errors.NoRespondersError):
            await publisher.publish([effect("evt-2", "code-a")])

    with_publisher(nats_server.url, body, stream=None, timeout=60.0)  # answered, not timed out


def test_a_refusal_by_the_stream_is_jetstreams_api_error(nats_server):
    async def body(publisher, js):
        await publisher.publish([effect("evt-3", "code-a")])
        with pytest.raises(APIError) as refused:
            await publisher.publish([effect("evt-3", "code-b"), effect("evt-3", "code-c")])
        return refused.value

    error = with_publisher(nats_server.url, body, stream=domain_stream(max_msgs=1, discard=DiscardPolicy.NEW))
    assert "maximum messages" in str(error.description)


def test_a_pub_ack_that_never_comes_is_a_nats_timeout(nats_server):
    """A plain subscriber on the subjects (no stream) takes the messages and answers nothing: the publish
    is held until its deadline, then raises nats-py's TimeoutError, and a late answer changes nothing."""
    async def body(publisher, js):
        nc = publisher._nc
        held = []

        async def hold(msg):
            held.append(msg)

        await nc.subscribe(f"{bus.DOMAIN_PREFIX}.>", cb=hold)
        with pytest.raises(nats.errors.TimeoutError):
            await publisher.publish([effect("evt-4", "code-a"), effect("evt-4", "code-b")])
        async with asyncio.timeout(30):
            while len(held) < 2:
                await asyncio.sleep(0.01)
        assert held[0].reply != held[1].reply
        await nc.publish(held[0].reply, b'{"stream":"DOMAIN_EVENTS","seq":1}')  # too late: ignored
        await nc.flush()
        assert publisher._awaiting == {}

    with_publisher(nats_server.url, body, stream=None, timeout=0.5)
