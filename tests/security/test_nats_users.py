"""NATS users and their permissions, on a real server configured as devstack configures it
(common/nats_permissions.py): each process's credential can do what its code does on the bus and
nothing it must not. The Helm values carry the same permissions (tests/deploy/test_k8s_internal_plane.py)."""

from __future__ import annotations

import asyncio
import os
from unittest import mock

import nats.errors

from common import bus, nats_permissions, work_message



async def connect_as(server, user: str, errors: list | None = None):
    """A connection as `user`, the way every process connects (common/bus.py, with its own inbox); the
    server's -ERR lines (a permissions violation) are collected in `errors`."""
    with mock.patch.dict(os.environ, {"NATS_URL": server.client_url, **server.credentials(user)}):
        settings = bus.BusSettings.from_env()

    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(exc)

    return await bus.connect(settings, f"test-{user}", max_reconnect_attempts=0, error_cb=on_error)


async def is_refused(awaitable) -> bool:
    """True when the server refuses the request: a permissions violation leaves it unanswered."""
    try:
        await awaitable
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError):
        return True
    return False


def create_streams(server) -> None:
    """The streams and the consumer, created as the processor does at start (as the processor)."""
    async def create():
        nc = await connect_as(server, nats_permissions.PROCESSOR)
        try:
            settings = bus.BusSettings.from_env()
            await bus.ensure_streams(nc.jetstream(), settings)
            await bus.ensure_consumer(nc.jetstream(), settings)
        finally:
            await nc.close()

    asyncio.run(create())


def test_the_gateway_publishes_work_and_reads_it_back_but_cannot_consume_or_create(nats_server):
    create_streams(nats_server)

    async def scenario():
        nc = await connect_as(nats_server, nats_permissions.GATEWAY)
        js = nc.jetstream(timeout=2)
        try:
            ack = await js.publish(bus.subject_for("t1"), b"sale", headers=work_message.headers("evt_1", "t1"))
            assert (await js.get_msg(bus.STREAM, ack.seq)).data == b"sale"
            subscription = await js.pull_subscribe_bind(bus.CONSUMER, bus.STREAM)
            assert await is_refused(subscription.fetch(1, timeout=2)), "the gateway consumed"
            assert await is_refused(js.add_stream(name="STOLEN", subjects=["stolen.>"])), "the gateway created a stream"
            assert await is_refused(js.get_msg(bus.DEAD_LETTER_STREAM, 1)), "the gateway read a dead letter"
        finally:
            await nc.close()

    asyncio.run(scenario())


def test_the_processor_consumes_and_dead_letters_but_cannot_publish_work(nats_server):
    create_streams(nats_server)

    async def scenario():
        gateway = await connect_as(nats_server, nats_permissions.GATEWAY)
        await gateway.jetstream().publish(bus.subject_for("t1"), b"sale")
        await gateway.close()
        nc = await connect_as(nats_server, nats_permissions.PROCESSOR)
        js = nc.jetstream(timeout=2)
        try:
            subscription = await js.pull_subscribe_bind(bus.CONSUMER, bus.STREAM)
            [msg] = await subscription.fetch(1, timeout=5)
            assert msg.data == b"sale"
            await msg.ack_sync()
            await js.publish(bus.dead_letter_subject_for("t1"), b"dead letter")
            assert await is_refused(js.publish(bus.subject_for("t1"), b"forged sale")), "the processor put work on"
            assert await is_refused(js.delete_stream(bus.STREAM)), "the processor deleted the work stream"
        finally:
            await nc.close()
        info = await stream_messages(nats_server, bus.STREAM)
        assert info == 1, "nothing but the gateway's sale is on the work stream"

    asyncio.run(scenario())


async def stream_messages(server, stream: str) -> int:
    """How many messages a stream holds, seen as devstack's admin."""
    nc = await nats.connect(server.url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


def test_no_user_hears_another_users_replies(nats_server):
    """Each user may subscribe to its own inbox only: a compromised gateway cannot listen to what the
    processor fetches, nor to what an operator reads from the dead letters."""
    async def scenario():
        errors: list[Exception] = []
        nc = await connect_as(nats_server, nats_permissions.GATEWAY, errors)
        try:
            await nc.subscribe(f"{bus.inbox_prefix(nats_permissions.PROCESSOR)}.>")
            await nc.subscribe(f"{bus.inbox_prefix(nats_permissions.GATEWAY)}.>")
            await nc.flush(timeout=2)
            await wait_for_async(lambda: errors)
        finally:
            await nc.close()
        return [str(exc) for exc in errors]

    messages = asyncio.run(scenario())
    assert any("permissions violation" in m.lower() and "_inbox_processor" in m.lower() for m in messages), messages
    assert not any("_inbox_gateway" in m.lower() for m in messages), messages


async def wait_for_async(condition, timeout: float = 10.0) -> None:
    """Wait (yielding to the loop) until `condition()` is truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the server never refused the subscription"
        await asyncio.sleep(0.01)


def test_an_unknown_or_anonymous_client_is_refused(nats_server):
    async def anonymous():
        try:
            nc = await nats.connect(nats_server.client_url, max_reconnect_attempts=0, allow_reconnect=False)
        except (nats.errors.Error, OSError):
            return True
        await nc.close()
        return False

    assert asyncio.run(anonymous()), "a client without a user got in"
