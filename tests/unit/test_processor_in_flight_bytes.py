"""The fetch loop's byte budget (processor/runner.py consume): it stops fetching while the messages in
hand weigh the budget, asks for no more maximum-size messages than fit, handles a message larger than
the budget alone, and keeps the in-flight gauges. The end-to-end proof under real memory is
tests/faults/test_processor_memory_bound.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import nats.errors
import pytest

from common.config import ConfigError
from processor import metrics
from processor.runner import consume, fetch_size, message_bytes
from processor.settings import DEFAULT_MAX_IN_FLIGHT_BYTES, ProcessorSettings


def msg(size: int, headers: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(data=b"x" * size, headers=headers)


class Subscription:
    """Hands out the queued messages in fetch-sized batches (recording each fetch's size); times out
    when empty."""

    def __init__(self, messages: list) -> None:
        self.messages = list(messages)
        self.asked: list[int] = []

    async def fetch(self, batch, timeout):
        if not self.messages:
            await asyncio.sleep(timeout)
            raise nats.errors.TimeoutError
        self.asked.append(batch)
        taken, self.messages = self.messages[:batch], self.messages[batch:]
        return taken


def run_loop(messages: list, handle, **limits) -> tuple[Subscription, set]:
    """consume() over `messages` until every one was handled (handle appends to `done`)."""

    async def scenario():
        stop = asyncio.Event()
        subscription = Subscription(messages)
        loop = asyncio.create_task(consume(subscription, handle, fetch_timeout=0.02, stop=stop, **limits))
        while len(handle.done) < len(messages):
            await asyncio.sleep(0.005)
        stop.set()
        return subscription, await loop

    return asyncio.run(scenario())


def recording_handler(work: float = 0.005):
    """A handler that records the bytes in hand at each start, and finishes after `work` seconds."""
    held: list[int] = []

    async def handle(m):
        held.append(metrics.IN_FLIGHT.bytes)
        await asyncio.sleep(work)
        handle.done.append(m)

    handle.done = []
    handle.held = held
    return handle


def test_message_bytes_counts_the_payload_and_the_header_block():
    assert message_bytes(msg(100)) == 100
    # "NATS/1.0\r\n" + "Nats-Msg-Id: abc\r\n" + "\r\n"
    assert message_bytes(msg(100, {"Nats-Msg-Id": "abc"})) == 100 + 10 + len("Nats-Msg-Id: abc\r\n") + 2


@pytest.mark.parametrize("batch, free, free_bytes, largest, expected", [
    (128, 256, None, 1024, 128),  # no budget: batch size and slots only
    (128, 10, None, 1024, 10),
    (128, 256, 32 * 1024, 1024, 32),  # as many maximum-size messages as fit
    (128, 256, 32 * 1024 + 1023, 1024, 32),
    (8, 256, 32 * 1024, 1024, 8),
    (128, 256, 100, 1024, 1),  # less than one message left: still one (never stuck)
])
def test_a_fetch_asks_for_no_more_maximum_size_messages_than_fit(batch, free, free_bytes, largest, expected):
    assert fetch_size(batch, free, free_bytes, largest) == expected


def test_the_loop_holds_at_most_the_budget_plus_one_message_and_fetches_within_it():
    largest, budget = 1000, 10_000
    sizes = [1000, 300, 700, 1000, 50, 999] * 20
    handle = recording_handler()
    subscription, left = run_loop([msg(s) for s in sizes], handle, batch_size=64, concurrency=256,
                                  max_in_flight_bytes=budget, max_message_bytes=largest)
    assert not left and len(handle.done) == len(sizes)
    assert max(handle.held) < budget + largest
    assert max(subscription.asked) <= budget // largest, "a fetch never asks for more than fits"
    assert metrics.IN_FLIGHT.bytes == 0, "every message released its bytes"
    assert metrics.IN_FLIGHT.peak >= max(handle.held), "the peak gauge saw the most held"


def test_messages_wait_for_the_budget_even_with_free_slots():
    """While held messages weigh the whole budget, nothing more is fetched, however many slots are free."""
    release = asyncio.Event()
    started: list = []

    async def scenario():
        stop = asyncio.Event()

        async def handle(m):
            started.append(m)
            await release.wait()

        subscription = Subscription([msg(1000) for _ in range(10)])
        loop = asyncio.create_task(consume(subscription, handle, batch_size=10, concurrency=100, fetch_timeout=0.02,
                                           stop=stop, max_in_flight_bytes=3000, max_message_bytes=1000))
        while len(started) < 3:
            await asyncio.sleep(0.005)
        fetches = len(subscription.asked)
        for _ in range(20):  # many loop turns: the loop must stay parked, not fetch
            await asyncio.sleep(0)
        held = (len(started), len(subscription.messages), len(subscription.asked) - fetches,
                metrics.IN_FLIGHT.bytes)
        release.set()
        while len(subscription.messages) or metrics.IN_FLIGHT.bytes:
            await asyncio.sleep(0.005)
        stop.set()
        await loop
        return held

    assert asyncio.run(scenario()) == (3, 7, 0, 3000)


def test_a_message_larger_than_the_budget_is_handled_and_nothing_is_fetched_beside_it():
    handle = recording_handler()
    sizes = [100, 5000, 100, 100]
    subscription, left = run_loop([msg(s) for s in sizes], handle, batch_size=10, concurrency=10,
                                  max_in_flight_bytes=1000, max_message_bytes=5000)
    assert sorted(len(m.data) for m in handle.done) == sorted(sizes) and not left
    assert subscription.asked == [1, 1, 1, 1], "never more than one message of the largest size fits"
    big = sizes.index(5000)
    assert 5000 <= handle.held[big] < 1000 + 5000
    assert all(held < 1000 for held in handle.held[big + 1:]), "the next ones came after it finished"


def test_without_a_budget_messages_are_not_weighed():
    handle = recording_handler()
    run_loop(list(range(5)), handle, batch_size=2, concurrency=4)
    assert handle.held == [0] * 5


def test_the_budget_setting(monkeypatch):
    monkeypatch.delenv("PROCESSOR_MAX_IN_FLIGHT_BYTES", raising=False)
    assert ProcessorSettings.from_env().max_in_flight_bytes == DEFAULT_MAX_IN_FLIGHT_BYTES == 32 * 1024 * 1024
    monkeypatch.setenv("PROCESSOR_MAX_IN_FLIGHT_BYTES", "1048576")
    assert ProcessorSettings.from_env().max_in_flight_bytes == 1048576
    for bad, message in (("0", "must be >= 1"), ("32MiB", "expected an integer")):
        monkeypatch.setenv("PROCESSOR_MAX_IN_FLIGHT_BYTES", bad)
        with pytest.raises(ConfigError, match=f"PROCESSOR_MAX_IN_FLIGHT_BYTES: {message}"):
            ProcessorSettings.from_env()
