"""common.batch_rpc: `rounds` (a batch split so that no statement sees one key twice, order kept), and
`screen` / `single` (per-item refusals, the size limit)."""

from __future__ import annotations

import random

import pytest

from common.batch_rpc import rounds, screen, single
from common.errors import InvalidArgument, NotFound


def test_empty_input_has_no_rounds():
    """Nothing to split gives no rounds at all (not one empty round, which would run an empty statement)."""
    assert rounds([]) == []


def test_unique_keys_stay_in_one_round_in_their_order():
    """Without duplicates everything runs in a single statement, in the caller's order."""
    assert rounds(["c", "a", "b"]) == [[0, 1, 2]]


def test_the_nth_occurrence_of_a_key_goes_into_round_n():
    """Second occurrences go to round 2, third to round 3; each round keeps the original order."""
    keys = ["a", "b", "a", "c", "a", "b", "d"]
    assert rounds(keys) == [[0, 1, 3, 6], [2, 5], [4]]


def test_composite_keys_are_compared_whole():
    """(tenant, code) pairs: the same code of two tenants is not a duplicate, the same pair is."""
    keys = [("t1", "x"), ("t2", "x"), ("t1", "x"), ("t1", "y")]
    assert rounds(keys) == [[0, 1, 3], [2]]


def test_every_index_once_no_key_twice_per_round_and_occurrences_in_order():
    """On random input: a partition of the indexes; keys unique within a round; ascending within a
    round; and a key's k-th occurrence sits in round k, so later items of a key run after earlier ones."""
    rng = random.Random(1234)
    keys = [rng.choice("abcdefg") for _ in range(500)]
    result = rounds(keys)
    assert sorted(i for round_ in result for i in round_) == list(range(len(keys)))
    for round_ in result:
        assert round_ == sorted(round_)
        assert len({keys[i] for i in round_}) == len(round_)
    round_of = {i: n for n, round_ in enumerate(result) for i in round_}
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        assert round_of[index] == seen.get(key, 0)
        seen[key] = seen.get(key, 0) + 1
    assert len(result) == max(seen.values())


def test_screen_refuses_a_batch_of_the_wrong_size_as_a_whole():
    """0 or 1001 items is the caller's mistake about the whole call, naming `items`; 1000 is allowed."""
    for size in (0, 1001):
        with pytest.raises(InvalidArgument) as caught:
            screen(list(range(size)), lambda item: item)
        assert caught.value.field == "items"
    assert len(screen(list(range(1000)), lambda item: item).valid) == 1000


def test_screen_answers_refused_items_in_place_and_keeps_the_checked_form_of_the_others():
    """An item that arrived as an error, or that `check` refuses, keeps its error at its index; the others
    are passed on as `check` returned them, with their positions in the call."""
    unparsable = InvalidArgument("email is not valid", "email")

    def check(item: str) -> str:
        if item == "bad":
            raise InvalidArgument("code is bad", "code")
        return item.upper()

    screened = screen(["a", unparsable, "bad", "b"], check)
    assert screened.valid == ["A", "B"]
    assert screened.positions == [0, 3]
    assert screened.results[0] is None and screened.results[3] is None
    assert screened.results[1] is unparsable
    assert isinstance(screened.results[2], InvalidArgument) and str(screened.results[2]) == "code is bad"


def test_single_returns_the_one_result_or_raises_its_error():
    """The single-item RPCs are one-item batches: the result comes back, an item error is raised."""
    assert single(["result"]) == "result"
    with pytest.raises(NotFound):
        single([NotFound("no such thing")])
