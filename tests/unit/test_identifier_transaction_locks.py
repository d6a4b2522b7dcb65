"""The identifier service's advisory locks per sale (tenant, transaction): one key per sale, sorted (so
concurrent batches take them in one order), and never more than MAX_TRANSACTION_LOCKS per batch."""

from __future__ import annotations

from identifier_service.repository import MAX_TRANSACTION_LOCKS, transaction_lock_keys


def test_a_batch_of_many_sales_takes_a_bounded_number_of_transaction_locks():
    few = transaction_lock_keys([("t1", f"FV-{n}") for n in range(10)])
    assert len(few) == 10 and few == sorted(few)
    many = transaction_lock_keys([("t1", f"FV-{n}") for n in range(1000)])
    assert 0 < len(many) <= MAX_TRANSACTION_LOCKS and many == sorted(many)
    assert transaction_lock_keys([("t1", "FV-1")] * 3) == transaction_lock_keys([("t1", "FV-1")])
