"""The test suite's own layout: pytest imports test modules by their basename (rootdir-relative
packages are not used), so two test files with one name in different folders stop the whole run at
collection, which a run of one folder never shows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_modules_share_a_name():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
