"""processor.coalescer.Coalescer with a fake batch call: what travels together, what each caller gets back,
cancellation and close. No sockets, no clocks: every scenario is ordered by events and loop turns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest

from processor.coalescer import Coalescer
from processor.failures import RpcFailure


class FakeSend:
    """A batch call that records each batch, optionally waits on `gate` before answering, and answers
    with `answer(items)` (by default item * 10, so a caller can tell it got its own result)."""

    def __init__(self, answer: Callable[[list], list] | None = None, gate: asyncio.Event | None = None):
        self.answer = answer or (lambda items: [item * 10 for item in items])
        self.gate = gate
        self.batches: list[list] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.cancelled = 0

    async def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return self.answer(items)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


async def turns(n: int = 20) -> None:
    """Let the loop run `n` turns (more than a call needs to be queued, spawned and flushed)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool]) -> None:
    """Run loop turns until `condition` holds; fail (rather than hang) if it never does."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def settle(tasks: list[asyncio.Task]) -> list:
    """Every task's result or exception, once all are done; fails instead of hanging when a caller is
    left waiting for an answer that never comes."""
    await until(lambda: all(task.done() for task in tasks))
    return await asyncio.gather(*tasks, return_exceptions=True)


def calls(coalescer: Coalescer, items) -> list[asyncio.Task]:
    """One task per call, all created in the same loop turn (as asyncio.gather would)."""
    return [asyncio.create_task(coalescer.call(item)) for item in items]


def test_calls_started_in_one_gather_travel_as_one_batch():
    """10 concurrent calls made in one loop turn, nothing in flight, max_calls=1: one batch of 10, in
    call order, and each caller gets the result at its own position."""
    async def scenario():
        send = FakeSend()
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        gathered = asyncio.ensure_future(asyncio.gather(*(coalescer.call(i) for i in range(10))))
        [results] = await settle([gathered])
        return send.batches, results

    batches, results = asyncio.run(scenario())
    assert batches == [list(range(10))]
    assert results == [i * 10 for i in range(10)]


@pytest.mark.parametrize("max_calls", [1, 3])
def test_max_items_splits_a_burst_into_full_batches_in_order(max_calls):
    """10 calls with max_items=4 leave as batches of 4, 4 and 2, in call order, every result routed."""
    async def scenario():
        send = FakeSend()
        coalescer = Coalescer(send, max_items=4, max_calls=max_calls)
        results = await settle(calls(coalescer, range(10)))
        return send.batches, results

    batches, results = asyncio.run(scenario())
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert results == [i * 10 for i in range(10)]


def test_calls_made_while_the_only_slot_is_busy_leave_together_in_the_next_batch():
    """max_calls=1 and a send blocked on an Event: calls made in later loop turns meanwhile are not sent
    (one at a time or at all) until the slot frees, and then they all leave in one batch."""
    async def scenario():
        gate = asyncio.Event()
        send = FakeSend(gate=gate)
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        first = asyncio.create_task(coalescer.call(1))
        await until(lambda: len(send.batches) == 1)
        later = []
        for item in (2, 3, 4):  # each in its own loop turn(s)
            later.append(asyncio.create_task(coalescer.call(item)))
            await turns()
        held_back = [list(b) for b in send.batches]
        gate.set()
        results = await settle([first, *later])
        return held_back, send.batches, send.most_in_flight, results

    held_back, batches, most_in_flight, results = asyncio.run(scenario())
    assert held_back == [[1]], "nothing is sent while the only slot is busy"
    assert batches == [[1], [2, 3, 4]]
    assert most_in_flight == 1
    assert results == [10, 20, 30, 40]


def test_no_more_than_max_calls_batches_are_in_flight():
    """max_calls=2 with a blocked send: two lone calls each leave at once (a lone call waits for nobody),
    the third and fourth wait for a slot and then leave together."""
    async def scenario():
        gate = asyncio.Event()
        send = FakeSend(gate=gate)
        coalescer = Coalescer(send, max_items=100, max_calls=2)
        tasks = [asyncio.create_task(coalescer.call("a"))]
        await until(lambda: len(send.batches) == 1)
        tasks.append(asyncio.create_task(coalescer.call("b")))
        await until(lambda: len(send.batches) == 2)
        for item in ("c", "d"):
            tasks.append(asyncio.create_task(coalescer.call(item)))
            await turns()
        held_back = [list(b) for b in send.batches]
        gate.set()
        results = await settle(tasks)
        return held_back, send.batches, send.most_in_flight, results

    held_back, batches, most_in_flight, results = asyncio.run(scenario())
    assert held_back == [["a"], ["b"]]
    assert batches == [["a"], ["b"], ["c", "d"]]
    assert most_in_flight == 2
    assert results == ["a" * 10, "b" * 10, "c" * 10, "d" * 10]


def test_a_per_item_exception_reaches_only_its_own_caller():
    """The batch answers item 2 with an exception: caller 2 raises exactly that, the others get results."""
    refusal = ValueError("item 2 refused")

    async def scenario():
        send = FakeSend(answer=lambda items: [refusal if i == 2 else i * 10 for i in items])
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        results = await settle(calls(coalescer, range(5)))
        return send.batches, results

    batches, results = asyncio.run(scenario())
    assert batches == [[0, 1, 2, 3, 4]]
    assert results == [0, 10, refusal, 30, 40]
    assert results[2] is refusal


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: ValueError("the whole call failed", 7),
        lambda: RpcFailure("UpsertCustomers", grpc.StatusCode.UNAVAILABLE, "connection refused"),
    ],
    ids=["ValueError", "RpcFailure"],
)
def test_a_whole_call_failure_reaches_every_caller_as_its_own_copy(make_error):
    """The batch call raises: each of the 5 callers raises an exception of the same type with the same
    arguments (RpcFailure: same method, code, details and text), but no two callers share one object
    (so re-raising does not pile tracebacks onto one instance). The slot is released afterwards."""
    raised: list[BaseException] = []

    def fail(items):
        raised.append(make_error())
        raise raised[-1]

    async def scenario():
        coalescer = Coalescer(FakeSend(answer=fail), max_items=100, max_calls=1)
        results = await settle(calls(coalescer, range(5)))
        coalescer._send = FakeSend()  # the next batch succeeds: the failed one gave its slot back
        [after] = await settle(calls(coalescer, [9]))
        return results, after

    results, after = asyncio.run(scenario())
    [original] = raised
    assert all(type(e) is type(original) for e in results)
    assert all(e.args == original.args for e in results)
    assert all(str(e) == str(original) for e in results)
    assert len({id(e) for e in results}) == 5, "every caller has its own exception object"
    assert all(e is not original for e in results)
    if isinstance(original, RpcFailure):
        assert all((e.method, e.code, e.details) == ("UpsertCustomers", grpc.StatusCode.UNAVAILABLE,
                                                     "connection refused") for e in results)
    assert after == 90


def test_a_caller_cancelled_before_the_flush_does_not_have_its_item_sent():
    """Two calls wait behind a busy slot; one caller is cancelled; only the other's item is sent."""
    async def scenario():
        gate = asyncio.Event()
        send = FakeSend(gate=gate)
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        first = asyncio.create_task(coalescer.call(1))
        await until(lambda: len(send.batches) == 1)
        gone = asyncio.create_task(coalescer.call(2))
        kept = asyncio.create_task(coalescer.call(3))
        await turns()
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        gate.set()
        results = await settle([first, kept])
        return send.batches, results

    batches, results = asyncio.run(scenario())
    assert batches == [[1], [3]]
    assert results == [10, 30]


def test_a_batch_whose_callers_all_cancelled_is_not_sent_at_all():
    """Every caller waiting for the slot gave up: no empty (or stale) batch call is made."""
    async def scenario():
        gate = asyncio.Event()
        send = FakeSend(gate=gate)
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        first = asyncio.create_task(coalescer.call(1))
        await until(lambda: len(send.batches) == 1)
        gone = [asyncio.create_task(coalescer.call(i)) for i in (2, 3)]
        await turns()
        for task in gone:
            task.cancel()
        await asyncio.gather(*gone, return_exceptions=True)
        gate.set()
        [result] = await settle([first])
        await turns()
        return send.batches, result

    batches, result = asyncio.run(scenario())
    assert batches == [[1]]
    assert result == 10


def test_close_cancels_the_batches_in_flight_and_their_callers_see_cancelled_error():
    """A batch call that would never finish: close() cancels it and every caller in it gets CancelledError."""
    async def scenario():
        send = FakeSend(gate=asyncio.Event())  # never set
        coalescer = Coalescer(send, max_items=100, max_calls=2)
        callers = calls(coalescer, range(3))
        await until(lambda: len(send.batches) == 1)
        await settle([asyncio.create_task(coalescer.close())])
        results = await settle(callers)
        return send.batches, send.cancelled, results

    batches, cancelled, results = asyncio.run(scenario())
    assert batches == [[0, 1, 2]]
    assert cancelled == 1, "the batch call itself was cancelled"
    assert all(isinstance(r, asyncio.CancelledError) for r in results)


def test_close_also_cancels_callers_still_waiting_for_a_slot():
    """A call queued behind a busy slot when close() runs ends with CancelledError instead of waiting
    forever, and its item is never sent."""
    async def scenario():
        send = FakeSend(gate=asyncio.Event())  # never set
        coalescer = Coalescer(send, max_items=100, max_calls=1)
        in_flight = asyncio.create_task(coalescer.call(1))
        await until(lambda: len(send.batches) == 1)
        queued = asyncio.create_task(coalescer.call(2))
        await turns()
        await settle([asyncio.create_task(coalescer.close())])
        results = await settle([in_flight, queued])
        await turns()
        return send.batches, results

    batches, results = asyncio.run(scenario())
    assert batches == [[1]]
    assert all(isinstance(r, asyncio.CancelledError) for r in results)


@pytest.mark.parametrize(
    "answer",
    [lambda items: [i * 10 for i in items][:-1], lambda items: [i * 10 for i in items] + [0]],
    ids=["one-too-few", "one-too-many"],
)
def test_a_send_answering_the_wrong_number_of_results_fails_every_caller(answer):
    """Results cannot be matched to items any more: no caller gets a (possibly someone else's) result."""
    async def scenario():
        coalescer = Coalescer(FakeSend(answer=answer), max_items=100, max_calls=1)
        return await settle(calls(coalescer, range(4)))

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert all("results for 4 items" in str(r) for r in results)
    assert len({id(r) for r in results}) == 4


def test_call_many_queues_its_items_together_and_returns_each_result_or_error_in_order():
    """A sale's line items: one call_many travels in one batch with another caller's item, and a refused
    item comes back as its error in its place (not raised), the others as their results."""
    refused = RpcFailure("AssignIdentifier", grpc.StatusCode.INVALID_ARGUMENT, "code is malformed")
    send = FakeSend(answer=lambda items: [refused if item == 2 else item * 10 for item in items])
    coalescer = Coalescer(send, max_items=10, max_calls=1)

    async def scenario():
        return await asyncio.gather(coalescer.call_many([1, 2, 3]), coalescer.call(4))

    many, single = asyncio.run(scenario())
    assert send.batches == [[1, 2, 3, 4]]
    assert many == [10, refused, 30] and single == 40
