"""Metrics plumbing without processes: METRICS_PORT, the gRPC call metrics of the one server interceptor,
the event id a service logs, the signature failure reasons, and the gateway master's metrics directory."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import grpc
import pytest
from metrics_support import Counts
from prometheus_client import CollectorRegistry

from autentikapp.v1 import customer_pb2
from common import config, errors
from common.grpc_server import BoundaryInterceptor, event_id_of
from common.metrics import RpcMetrics, batch_items, rpc_labels, serve
from common import metrics_master
from gateway import signature

UPSERTS = "/autentikapp.v1.CustomerService/UpsertCustomers"


# -- METRICS_PORT ----------------------------------------------------------------------------------


def test_metrics_port_defaults_per_process_and_zero_disables(monkeypatch):
    monkeypatch.delenv("METRICS_PORT", raising=False)
    assert [config.metrics_port(p) for p in ("gateway", "processor", "customer_service", "identifier_service")] == [
        9102, 9103, 9104, 9105]
    assert config.ServiceSettings.from_env("IDENTIFIER_SERVICE", 50052).metrics_port == 9105
    monkeypatch.setenv("METRICS_PORT", "0")
    assert config.metrics_port("processor") == 0
    assert serve(0, "127.0.0.1") is None
    monkeypatch.setenv("METRICS_PORT", "nine")
    with pytest.raises(config.ConfigError, match="^METRICS_PORT: expected an integer"):
        config.metrics_port("gateway")


# -- gRPC calls ------------------------------------------------------------------------------------


def test_rpc_labels_and_batch_items():
    assert rpc_labels(UPSERTS) == ("autentikapp.v1.CustomerService", "UpsertCustomers")
    batch = customer_pb2.UpsertCustomersRequest(items=[customer_pb2.UpsertCustomerRequest()] * 3)
    assert batch_items(batch) == 3
    assert batch_items(customer_pb2.UpsertCustomerRequest()) is None


def test_rpc_metrics_count_by_method_and_code_and_observe_items():
    registry = CollectorRegistry()
    client = RpcMetrics("client", registry)
    batch = customer_pb2.UpsertCustomersRequest(items=[customer_pb2.UpsertCustomerRequest()] * 2)
    client.observe(UPSERTS, "OK", 0.01, batch)
    client.observe(UPSERTS, "UNAVAILABLE", 0.5, batch)
    labels = {"service": "autentikapp.v1.CustomerService", "method": "UpsertCustomers"}
    assert registry.get_sample_value("autentikapp_grpc_client_calls_total", {**labels, "code": "OK"}) == 1
    assert registry.get_sample_value("autentikapp_grpc_client_calls_total", {**labels, "code": "UNAVAILABLE"}) == 1
    assert registry.get_sample_value("autentikapp_grpc_client_call_seconds_sum", labels) == pytest.approx(0.51)
    assert registry.get_sample_value("autentikapp_grpc_client_batch_items_sum", labels) == 4


class FakeContext:
    """The part of a grpc.aio servicer context the interceptor and event_id_of use."""

    def __init__(self, metadata: tuple = ()) -> None:
        self.metadata = metadata
        self.status: grpc.StatusCode | None = None

    def invocation_metadata(self):
        return self.metadata

    async def abort(self, code, details):
        self.status = code
        raise grpc.aio.AbortError()

    def code(self):
        return self.status


def call_through_interceptor(behaviour, request) -> None:
    """One unary call of UpsertCustomers through BoundaryInterceptor, answered by `behaviour`."""

    async def continuation(details):
        return grpc.unary_unary_rpc_method_handler(behaviour)

    async def scenario():
        details = SimpleNamespace(method=UPSERTS, invocation_metadata=())
        handler = await BoundaryInterceptor().intercept_service(continuation, details)
        try:
            await handler.unary_unary(request, FakeContext())
        except grpc.aio.AbortError:
            pass

    asyncio.run(scenario())


def test_the_interceptor_counts_every_call_with_its_code_duration_and_items():
    labels = {"service": "autentikapp.v1.CustomerService", "method": "UpsertCustomers"}
    counts = Counts(("autentikapp_grpc_server_calls_total", {**labels, "code": "OK"}),
                    ("autentikapp_grpc_server_calls_total", {**labels, "code": "INVALID_ARGUMENT"}),
                    ("autentikapp_grpc_server_calls_total", {**labels, "code": "INTERNAL"}),
                    ("autentikapp_grpc_server_call_seconds_count", labels),
                    ("autentikapp_grpc_server_batch_items_sum", labels))
    batch = customer_pb2.UpsertCustomersRequest(items=[customer_pb2.UpsertCustomerRequest()] * 3)

    async def ok(request, context):
        return customer_pb2.UpsertCustomersResponse()

    async def refused(request, context):
        raise errors.InvalidArgument("tenant_id is required", "tenant_id")

    async def bug(request, context):
        raise RuntimeError("a bug")

    for behaviour in (ok, refused, bug):
        call_through_interceptor(behaviour, batch)
    assert counts.grown() == [1, 1, 1, 3, 9]


def test_an_unexpected_database_error_is_logged_without_the_values_it_quotes(caplog):
    """Postgres quotes stored values in some errors (the key of a unique violation, a failing row); the
    boundary logs the error's type and SQLSTATE and where it happened, never that text."""
    import psycopg

    quoted = "Failing row contains (ana@correo-tienda.co, +573001112233)"  # not on the raise line: tracebacks quote it

    async def leaky(request, context):
        raise psycopg.errors.CheckViolation(quoted)

    with caplog.at_level(logging.ERROR, logger="grpc"):
        call_through_interceptor(leaky, customer_pb2.UpsertCustomersRequest())
    text = caplog.text
    assert "CheckViolation" in text and "leaky" in text, "type and traceback are kept"
    assert "ana@correo-tienda.co" not in text and "3001112233" not in text


def test_a_service_logs_the_event_id_of_the_item_else_a_well_formed_x_event_id():
    assert event_id_of("evt_item", FakeContext((("x-event-id", "evt_meta"),))) == "evt_item"
    assert event_id_of("", FakeContext((("x-event-id", "evt_meta"),))) == "evt_meta"
    assert event_id_of("", FakeContext((("x-event-id", "evt bad\n"),))) == ""
    assert event_id_of("evt bad\n") == ""
    assert event_id_of("") == ""


# -- the gateway -----------------------------------------------------------------------------------


@pytest.mark.parametrize("secrets,given,reason", [
    (["whsec_a"], None, "missing"),
    (["whsec_a"], "  ", "missing"),
    (["whsec_a"], "xyz", "malformed"),
    ([], "0" * 64, "unknown_tenant"),
    (["whsec_a"], "0" * 64, "mismatch"),
])
def test_signature_failure_reasons(secrets, given, reason):
    assert not signature.verify(secrets, b"{}", given)
    assert signature.failure_reason(secrets, given) == reason
    assert reason in signature.FAILURE_REASONS


def test_the_master_empties_a_given_metrics_directory_and_keeps_it(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old run")
    (directory / "keep.txt").write_text("not ours")
    environ = {metrics_master.ENV_VAR: str(directory)}
    state = metrics_master.prepare_directory(environ)
    assert (state.directory, state.owned) == (directory, False)
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt"]
    metrics_master.shutdown()
    assert directory.is_dir()


def test_without_a_directory_the_master_makes_one_for_its_workers_and_removes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    environ: dict[str, str] = {}
    state = metrics_master.prepare_directory(environ)
    assert state.owned and environ[metrics_master.ENV_VAR] == str(state.directory)
    assert state.directory.parent == tmp_path and state.directory.is_dir()
    metrics_master.shutdown()
    assert not state.directory.exists()


def test_a_dead_worker_loses_its_live_gauges_not_its_counts(tmp_path):
    metrics_master.prepare_directory({metrics_master.ENV_VAR: str(tmp_path)})
    for name in ("gauge_livesum_42.db", "counter_42.db", "gauge_livesum_43.db"):
        (tmp_path / name).write_bytes(b"")
    metrics_master.worker_exited(42)
    metrics_master.shutdown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_42.db", "gauge_livesum_43.db"]
