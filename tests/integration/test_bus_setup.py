"""The JetStream set-up is idempotent and gives the stream and consumer the contract's settings."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from nats.js.api import AckPolicy, StorageType

from common import bus, work_message


def run(coro):
    return asyncio.run(coro)


def settings(url: str) -> bus.BusSettings:
    return bus.BusSettings(url=url, duplicate_window_seconds=6 * 3600, max_age_seconds=86400, replicas=1,
                           max_deliver=7, ack_wait_seconds=30)


def test_streams_and_consumer_are_created_once_and_updated_in_place(nats_server):
    async def scenario():
        nc = await bus.connect(settings(nats_server.url), "test")
        js = nc.jetstream()
        await asyncio.gather(*(bus.ensure_streams(js, settings(nats_server.url)) for _ in range(3)))
        await bus.ensure_consumer(js, settings(nats_server.url))
        await bus.ensure_consumer(js, settings(nats_server.url))
        info = await js.stream_info(bus.STREAM)
        consumer = await js.consumer_info(bus.STREAM, bus.CONSUMER)
        await bus.ensure_streams(js, replace(settings(nats_server.url), duplicate_window_seconds=7200))
        updated = await js.stream_info(bus.STREAM)
        dead = await js.stream_info(bus.DEAD_LETTER_STREAM)
        await nc.close()
        return info, consumer, updated, dead

    info, consumer, updated, dead = run(scenario())
    assert info.config.storage == StorageType.FILE
    assert info.config.subjects == ["webhooks.inbound.>"]
    assert info.config.duplicate_window == 6 * 3600
    assert consumer.config.ack_policy == AckPolicy.EXPLICIT and consumer.config.max_deliver == 7 + bus.RESERVE_DELIVERIES
    assert consumer.config.durable_name == bus.CONSUMER
    assert updated.config.duplicate_window == 7200
    assert dead.config.subjects == ["webhooks.dead.>"]


def test_same_message_id_is_stored_once(nats_server):
    async def scenario():
        nc = await bus.connect(settings(nats_server.url), "test")
        js = nc.jetstream()
        await bus.ensure_streams(js, settings(nats_server.url))
        acks = [await js.publish(bus.subject_for("t1"), b"x", headers={work_message.HEADER_MSG_ID: "evt"}) for _ in range(3)]
        state = (await js.stream_info(bus.STREAM)).state
        await nc.close()
        return acks, state

    acks, state = run(scenario())
    assert [bool(a.duplicate) for a in acks] == [False, True, True]
    assert state.messages == 1
