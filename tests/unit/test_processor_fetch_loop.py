"""The fetch loop's idle fetches (processor/runner.py consume): a fetch that finds nothing is normal,
whichever TimeoutError nats-py raises for it; only a real failure is logged and paused after."""

from __future__ import annotations

import asyncio
import logging

import nats.errors
import pytest

from processor import runner


class IdleSubscription:
    """A consumer with nothing to deliver: every fetch times out with `error`; the third sets `stop`."""

    def __init__(self, error: type[BaseException], stop: asyncio.Event) -> None:
        self.error, self.stop, self.fetches = error, stop, 0

    async def fetch(self, batch, timeout):
        self.fetches += 1
        if self.fetches == 3:
            self.stop.set()
        raise self.error


async def consume_until_stopped(error: type[BaseException]) -> IdleSubscription:
    stop = asyncio.Event()
    subscription = IdleSubscription(error, stop)

    async def handle(msg):  # never called: nothing is delivered
        raise AssertionError("no message")

    # A pause after a fetch would wait for `stop`, which only the third fetch sets: the loop would never
    # end. The outer bound only turns that hang into a failure.
    await asyncio.wait_for(runner.consume(subscription, handle, batch_size=10, concurrency=10, fetch_timeout=1,
                                          stop=stop), timeout=60)
    return subscription


@pytest.mark.parametrize("error", [nats.errors.TimeoutError, asyncio.TimeoutError])
def test_an_idle_fetch_is_neither_a_warning_nor_a_pause(monkeypatch, caplog, error):
    monkeypatch.setattr(runner, "FETCH_ERROR_PAUSE_SECONDS", 3600)
    with caplog.at_level(logging.INFO, logger="processor"):
        subscription = asyncio.run(consume_until_stopped(error))
    assert subscription.fetches == 3
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_failing_fetch_is_logged_and_paused_after(monkeypatch, caplog):
    monkeypatch.setattr(runner, "FETCH_ERROR_PAUSE_SECONDS", 0)
    with caplog.at_level(logging.WARNING):
        asyncio.run(consume_until_stopped(nats.errors.ConnectionClosedError))
    assert [r.getMessage() for r in caplog.records if "fetch failed" in r.getMessage()]
