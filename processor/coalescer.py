"""Coalescing: many concurrent single calls become one batch call.

Each message is still handled on its own (processor.handler: its own outcome, ack, nak or term), but
the calls its handler makes at about the same time as other handlers' calls travel together: one
UpsertCustomers RPC, one AssignIdentifiers RPC and one outcomes INSERT for a whole fetched batch, not
one per event. That is what lets the processor keep up with the database: a transaction and a
round trip per batch instead of per event.

The rule is simple: calls made during one turn of the event loop join the same batch; while
`max_calls` batches are in flight, new calls wait and then leave together. So batches grow with load
and a lone event waits for nobody.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# A batch call answers each item with its result or the exception for that item alone.
BatchCall = Callable[[list[Item]], Awaitable[Sequence["Result | BaseException"]]]


def _own_copy(exc: Exception) -> Exception:
    """A copy of the exception for one caller, so that callers re-raising it do not pile their tracebacks
    onto one shared object; the object itself when it cannot be copied."""
    try:
        return copy.copy(exc)
    except Exception:  # noqa: BLE001 - an exception type whose constructor copy cannot call
        return exc


class Coalescer(Generic[Item, Result]):
    """Turns concurrent `await call(item)` into batch calls of up to `max_items` items, at most
    `max_calls` of them in flight. Create and use it inside one running event loop."""

    def __init__(self, send: BatchCall, *, max_items: int, max_calls: int) -> None:
        """`send` makes the batch call; it raises for a failure of the whole call."""
        self._send = send
        self._max_items = max_items
        self._slots = asyncio.Semaphore(max_calls)
        self._queue: collections.deque[tuple[Item, asyncio.Future]] = collections.deque()
        self._spawn_pending = False
        self._tasks: set[asyncio.Task] = set()

    async def call(self, item: Item) -> Result:
        """The item's result, from whichever batch it travels in; raises the item's (or the batch's) error."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._schedule()
        return await future

    async def call_many(self, items: Sequence[Item]) -> list[Result | BaseException]:
        """Each item's result or its error, in order; the items queue together (so they share a batch
        when they fit) and no task is made per item."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self._queue.extend(zip(items, futures))
        self._schedule()
        return await asyncio.gather(*futures, return_exceptions=True)

    def _schedule(self) -> None:
        """Start a flush after this turn of the loop, so that the calls made in this turn join it."""
        if not self._spawn_pending:
            self._spawn_pending = True
            asyncio.get_running_loop().call_soon(self._spawn)

    def _spawn(self) -> None:
        """Start a flush task (it waits for a free slot, then takes what is queued by then)."""
        self._spawn_pending = False
        if self._queue:
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        """Send up to max_items queued items as one batch and hand each caller its result."""
        async with self._slots:
            batch: list[tuple[Item, asyncio.Future]] = []
            while self._queue and len(batch) < self._max_items:
                item, future = self._queue.popleft()
                if not future.done():  # a caller cancelled while waiting: do not send its item
                    batch.append((item, future))
            if self._queue:
                self._schedule()
            if not batch:
                return
            try:
                results = await self._send([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"a batch call answered {len(results)} results for {len(batch)} items")
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - the whole call failed: every item fails with it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(_own_copy(exc))
                return
            for (_, future), result in zip(batch, results):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def close(self) -> None:
        """Cancel the batches in flight and the calls still queued (their callers see CancelledError)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._queue:
            _, future = self._queue.popleft()
            future.cancel()
