"""Batch calls: screening their items, and splitting them so one statement never touches a row twice.

Both services answer a batch item by item: a refused item gets its own error and the rest go on
(`screen`); the single-item RPCs are one-item batches (`single`).

Postgres refuses an `INSERT ... ON CONFLICT DO UPDATE` that would update one row twice, and an
`UPDATE ... FROM` with two source rows for one target applies only one of them. Items are split into
rounds, each with unique keys and in the original order, so the second item for a key runs in a later
statement and sees what the first one wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from common.errors import DomainError, InvalidArgument


def rounds(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indexes of `keys` in rounds: the n-th occurrence of a key goes into round n; order is kept."""
    seen: dict[Hashable, int] = {}
    result: list[list[int]] = []
    for index, key in enumerate(keys):
        round_number = seen.get(key, 0)
        seen[key] = round_number + 1
        if round_number == len(result):
            result.append([])
        result[round_number].append(index)
    return result


MAX_BATCH_ITEMS = 1000

Item = TypeVar("Item")


@dataclass
class Screened(Generic[Item]):
    """A batch call's items after screening: `results` holds each refused item's error (None for the
    others, to be answered), `valid` the accepted items (as `check` returned them) and `positions`
    where each accepted item stands in the call."""

    results: list[Any]
    valid: list[Item] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


def screen(items: Sequence[Item | DomainError], check: Callable[[Item], Item]) -> Screened[Item]:
    """Refuse a batch of the wrong size as a whole (InvalidArgument), then check each item on its own.

    An item may arrive as a DomainError already (it did not parse); `check` returns the item as it is
    to be used, or raises a DomainError that refuses only that item.
    """
    if not items:
        raise InvalidArgument("items must not be empty", "items")
    if len(items) > MAX_BATCH_ITEMS:
        raise InvalidArgument(f"items must hold at most {MAX_BATCH_ITEMS} entries per call; split the batch", "items")
    screened: Screened[Item] = Screened(results=[None] * len(items))
    for index, item in enumerate(items):
        try:
            if isinstance(item, DomainError):
                raise item
            screened.valid.append(check(item))
            screened.positions.append(index)
        except DomainError as exc:
            screened.results[index] = exc
    return screened


def single(results: list[Any]) -> Any:
    """The one result of a one-item batch call; its error is raised, as the single-item RPC does."""
    [result] = results
    if isinstance(result, DomainError):
        raise result
    return result
