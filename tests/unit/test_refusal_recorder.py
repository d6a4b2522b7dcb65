"""gateway/refusals.py on its own, against a real Postgres: what a refusal keeps (and never keeps), the
recorder's limits (per tenant, unverified, a full queue, a failing database), pruning by age and by the
per-tenant cap, the drain thread's stop, and the reader's order and pages."""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg
import pytest
from metrics_support import Counts

from common import timestamps
from common.errors import InvalidArgument
from gateway import problems, refusals
from gateway.problems import Problem
from gateway.refusals import RefusalRecorder, RefusedRequest, list_refused
from gateway.tenants import MIGRATIONS, TenantStore

DROPPED = "autentikapp_gateway_refusals_dropped_total"
RECORDED = "autentikapp_gateway_refusals_recorded_total"


@pytest.fixture
def store(database_factory, keyring):
    """A migrated gateway database with tenants acme and globex."""
    store = TenantStore.open(database_factory("refusals", MIGRATIONS), keyring=keyring)
    store.create_tenant("Acme", "acme")
    store.create_tenant("Globex", "globex")
    yield store
    store.close()


@pytest.fixture
def recorders(store):
    """Makes recorders on the store's pool; every one is closed at the end."""
    made: list[RefusalRecorder] = []

    def make(**options) -> RefusalRecorder:
        made.append(RefusalRecorder(store.pool, **options))
        return made[-1]

    yield make
    for recorder in made:
        recorder.close()


def rows(store, tenant_id: str | None = None) -> list[dict]:
    with store.pool.connection() as conn:
        return conn.execute("SELECT * FROM refused_requests WHERE %s::text IS NULL OR tenant_id = %s ORDER BY id",
                            (tenant_id, tenant_id)).fetchall()


def refusal(tenant_id: str = "acme", *, ago: timedelta = timedelta(0), status_kind=problems.UNSUPPORTED_MEDIA_TYPE,
            detail: str = "The body must be sent with Content-Type: application/json (UTF-8).",
            source: str = "autentikapp") -> refusals.Refusal:
    return refusals.refusal_of(Problem(status_kind, detail), tenant_id, source, timestamps.now() - ago)


# -- what a refusal keeps ---------------------------------------------------------------------------


def test_a_401_keeps_which_check_failed_then_what_the_sender_was_told():
    problem = Problem(problems.INVALID_SIGNATURE, "The request is not signed with this endpoint's secret.",
                      cause="mismatch")
    kept = refusals.refusal_of(problem, "acme", "autentikapp")
    assert (kept.http_status, kept.code, kept.fields) == (401, "invalid-signature", ())
    assert kept.reason == ("The signature does not match any active secret. "
                           "The request is not signed with this endpoint's secret.")


def test_values_quoted_in_a_reason_are_blanked_and_a_reason_is_bounded():
    conflict = Problem(problems.TRANSACTION_CONFLICT, 'transaction_id "FACT-00123" was already accepted with '
                       "different content; a corrected sale needs a new transaction_id.")
    assert refusals.reason_of(conflict) == ('transaction_id "…" was already accepted with different content; '
                                            "a corrected sale needs a new transaction_id.")
    duplicate = Problem(problems.MALFORMED_JSON, "The body is not valid JSON: duplicate key 'ana@example.com' "
                        "in a JSON object")
    assert "ana@example.com" not in refusals.reason_of(duplicate)
    long = Problem(problems.BAD_REQUEST, "x" * 2000 + "\n\x00")
    assert len(refusals.reason_of(long)) == refusals.MAX_REASON


def test_a_422_keeps_its_fields_paths_never_their_messages_and_at_most_fifty():
    errors = [{"field": "customer_data.email", "message": "'ana@@example' is not an e-mail address"},
              {"field": "customer_data.email", "message": "repeated"},
              *({"field": f"transaction_data.line_items[{i}].code", "message": "required"} for i in range(60))]
    kept = refusals.refusal_of(Problem(problems.INVALID_PAYLOAD, "The payload breaks the rules; see errors.",
                                       errors=errors), "acme", "shopify")
    assert kept.fields[:2] == ("customer_data.email", "transaction_data.line_items[0].code")
    assert len(kept.fields) == refusals.MAX_FIELDS
    assert "ana@@example" not in repr(kept)


# -- the recorder -----------------------------------------------------------------------------------


def test_recorded_refusals_are_written_and_an_unknown_tenant_gets_nothing(store, recorders):
    recorder = recorders()
    counts = Counts((RECORDED, {}))
    assert recorder.record(refusal("acme"), verified=True)
    assert recorder.record(refusal("nobody"), verified=False)
    assert recorder.record(refusal("nobody-at-all"), verified=True)  # even if a caller were wrong about it
    assert recorder.flush()
    assert [(r["tenant_id"], r["http_status"], r["code"], r["fields"], r["source"]) for r in rows(store)] == [
        ("acme", 415, "unsupported-media-type", [], "autentikapp")]
    assert counts.grown() == [1]


def test_a_noisy_tenant_is_capped_per_second_and_the_rest_counted(store, recorders):
    recorder = recorders(per_tenant_rate=0.001, per_tenant_burst=5)
    counts = Counts((DROPPED, {"reason": "tenant_limit"}))
    kept = [recorder.record(refusal("acme"), verified=True) for _ in range(8)]
    assert recorder.record(refusal("globex"), verified=True), "another tenant has its own bucket"
    assert recorder.flush()
    assert kept == [True] * 5 + [False] * 3
    assert (len(rows(store, "acme")), len(rows(store, "globex"))) == (5, 1)
    assert counts.grown() == [3]


def test_refusals_of_unconfirmed_tenants_share_one_budget(store, recorders):
    recorder = recorders(unverified_rate=0.001, unverified_burst=3)
    counts = Counts((DROPPED, {"reason": "unverified_limit"}))
    made_up = [recorder.record(refusal(f"made-up-{i}"), verified=False) for i in range(5)]
    assert made_up == [True] * 3 + [False] * 2
    assert not recorder.record(refusal("acme"), verified=False)
    assert recorder.record(refusal("acme"), verified=True), "a confirmed tenant does not spend that budget"
    assert recorder.flush()
    assert len(rows(store)) == 1
    assert counts.grown() == [3]


def test_a_full_queue_drops_and_counts_without_waiting(store, recorders):
    recorder = recorders(queue_size=2, start=False)  # nothing drains it
    counts = Counts((DROPPED, {"reason": "queue_full"}))
    assert [recorder.record(refusal("acme"), verified=True) for _ in range(4)] == [True, True, False, False]
    assert counts.grown() == [2]


def test_a_database_error_is_counted_and_logged_once_never_raised(store, recorders, caplog):
    with store.pool.connection() as conn:
        conn.execute("ALTER TABLE refused_requests RENAME TO refused_requests_elsewhere")  # every insert fails
    recorder = recorders(batch_size=1)
    counts = Counts((DROPPED, {"reason": "database"}))
    with caplog.at_level(logging.WARNING, logger="gateway.refusals"):
        for _ in range(2):
            assert recorder.record(refusal("acme"), verified=True)
            assert recorder.flush()
    assert counts.grown() == [2]
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.refusals"]
    assert len(lines) == 1 and "could not record 1 refused requests: UndefinedTable" in lines[0]
    assert "acme" not in lines[0]


def test_a_closed_pool_stops_the_drain_thread_and_counts_what_was_queued(database_factory, keyring):
    store = TenantStore.open(database_factory("refusals", MIGRATIONS), keyring=keyring)
    store.close()  # the worker went away without closing the recorder first
    recorder = RefusalRecorder(store.pool)
    counts = Counts((DROPPED, {"reason": "database"}))
    assert recorder.record(refusal("acme"), verified=True)
    assert recorder.flush()
    recorder._thread.join(10)
    assert not recorder._thread.is_alive()
    assert counts.grown() == [1]
    assert not recorder.record(refusal("acme"), verified=True)


def test_close_writes_what_is_queued_and_stops_the_thread(store):
    recorder = RefusalRecorder(store.pool)
    for _ in range(3):
        recorder.record(refusal("acme"), verified=True)
    recorder.close()
    assert not recorder._thread.is_alive()
    assert len(rows(store, "acme")) == 3
    assert not recorder.record(refusal("acme"), verified=True), "nothing is queued after close"
    recorder.close()  # idempotent


# -- pruning ----------------------------------------------------------------------------------------


def test_rows_past_the_retention_are_never_listed_and_the_prune_deletes_them(store, recorders):
    recorder = recorders(retention_hours=24)
    recorder.record(refusal("acme", ago=timedelta(hours=25)), verified=True)
    recorder.record(refusal("acme", ago=timedelta(hours=23)), verified=True)
    assert recorder.flush()
    assert len(rows(store, "acme")) == 2
    page, _ = list_refused(store.pool, "acme", 10, "", retention_hours=24)
    assert len(page) == 1, "listed only within the retention, pruned or not"
    assert recorder.prune() == 1
    assert len(rows(store, "acme")) == 1


def test_the_prune_keeps_the_newest_rows_of_each_tenant_up_to_its_cap(store, recorders):
    recorder = recorders(max_per_tenant=3)
    for minutes in range(6, 0, -1):  # oldest first
        recorder.record(refusal("acme", ago=timedelta(minutes=minutes)), verified=True)
    recorder.record(refusal("globex"), verified=True)
    assert recorder.flush()
    newest = sorted((r["received_at"] for r in rows(store, "acme")), reverse=True)[:3]
    assert recorder.prune() == 3
    assert sorted((r["received_at"] for r in rows(store, "acme")), reverse=True) == newest
    assert len(rows(store, "globex")) == 1
    assert recorder.prune() == 0, "nothing more to do"


def test_retention_and_cap_settings_are_validated_naming_the_variable(monkeypatch):
    from common.config import ConfigError
    from gateway import settings

    for name in ("GATEWAY_REFUSED_RETENTION_HOURS", "GATEWAY_REFUSED_MAX_PER_TENANT"):
        monkeypatch.delenv(name, raising=False)
    assert (settings.refused_retention_hours(), settings.refused_max_per_tenant()) == (168, 1000)
    for name, value in (("GATEWAY_REFUSED_RETENTION_HOURS", "0"), ("GATEWAY_REFUSED_RETENTION_HOURS", "week"),
                        ("GATEWAY_REFUSED_MAX_PER_TENANT", "0"), ("GATEWAY_REFUSED_MAX_PER_TENANT", "1e9")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=name):
            settings.GatewaySettings.from_env()
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_REFUSED_RETENTION_HOURS", "24")
    monkeypatch.setenv("GATEWAY_REFUSED_MAX_PER_TENANT", "50")
    read = settings.GatewaySettings.from_env()
    assert (read.refused_retention_hours, read.refused_max_per_tenant) == (24, 50)


# -- the reader -------------------------------------------------------------------------------------


def test_the_list_is_newest_first_in_pages_bound_to_the_tenant(store, recorders):
    recorder = recorders()
    for minutes in range(5, 0, -1):
        recorder.record(refusal("acme", ago=timedelta(minutes=minutes), detail=f"refusal {minutes} minutes ago"),
                        verified=True)
    recorder.record(refusal("globex", source="woocommerce"), verified=True)
    assert recorder.flush()

    seen: list[RefusedRequest] = []
    token, pages = "", 0
    while True:
        page, token = list_refused(store.pool, "acme", 2, token)
        seen.extend(page)
        pages += 1
        if not token:
            break
    assert pages == 3
    assert [r.reason for r in seen] == [f"refusal {m} minutes ago" for m in range(1, 6)]
    assert all(isinstance(r, RefusedRequest) and r.source == "autentikapp" and r.fields == () for r in seen)
    with pytest.raises(Exception):
        seen[0].reason = "changed"  # frozen

    _, acme_token = list_refused(store.pool, "acme", 1, "")
    with pytest.raises(InvalidArgument, match="another tenant"):
        list_refused(store.pool, "globex", 1, acme_token)
    [globex] = list_refused(store.pool, "globex", 200, "")[0]
    assert (globex.source, globex.http_status) == ("woocommerce", 415)


@pytest.mark.parametrize("page_size", [0, -1, 201, True])
def test_a_page_size_outside_1_to_200_is_invalid(store, page_size):
    with pytest.raises(InvalidArgument, match="page_size"):
        list_refused(store.pool, "acme", page_size, "")


def test_a_forged_token_or_tenant_id_is_invalid_never_an_sql_error(store):
    from common import paging

    scope = {"tenant": "acme", "list": "refused_requests"}
    forged = (paging.encode(scope, ["not a time", 1]), paging.encode(scope, ["2025-01-01T00:00:00+00:00", -1]))
    for token in ("!!!", *forged):
        with pytest.raises(InvalidArgument):
            list_refused(store.pool, "acme", 10, token)
    with pytest.raises(InvalidArgument):
        list_refused(store.pool, "acme'; --", 10, "")


def test_the_table_refuses_what_must_never_be_kept(store):
    with store.pool.connection() as conn:
        for fields in ('[{"value": "ana@example.com"}]', '{"a": 1}', '[' + ",".join(['"x"'] * 51) + ']'):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute("INSERT INTO refused_requests (tenant_id, http_status, code, reason, fields, source) "
                             "VALUES ('acme', 422, 'invalid-payload', '', %s::jsonb, 'autentikapp')", (fields,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO refused_requests (tenant_id, http_status, code, reason, source) "
                         "VALUES ('acme', 400, 'bad-request', repeat('x', 501), 'autentikapp')")
