"""What the processor needs to serve EventOutcomeService: its port setting, the roles allowed to call it,
a throwaway certificate that serves as well as calls (its common name still its role), and make run's
wiring (PROCESSOR_GRPC_PORT, PROCESSOR_ADDR)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common import config, dev_certificates, grpc_tls
from devstack import system
from processor import outcome_api
from processor.settings import ProcessorSettings


def test_the_port_defaults_to_50053_and_0_picks_a_free_one(monkeypatch):
    monkeypatch.delenv("PROCESSOR_GRPC_PORT", raising=False)
    assert ProcessorSettings.from_env().grpc_port == config.PROCESSOR_GRPC_DEFAULT_PORT == 50053
    monkeypatch.setenv("PROCESSOR_GRPC_PORT", "0")
    assert ProcessorSettings.from_env().grpc_port == 0


@pytest.mark.parametrize("value, message", [("grpc", "expected an integer"), ("65536", "must be <= 65535"),
                                            ("-1", "must be >= 0")])
def test_a_bad_port_names_the_variable(monkeypatch, value, message):
    monkeypatch.setenv("PROCESSOR_GRPC_PORT", value)
    with pytest.raises(config.ConfigError, match=f"^PROCESSOR_GRPC_PORT: {message}"):
        ProcessorSettings.from_env()


def test_dashboards_and_operators_read_the_outcomes_and_the_processor_role_does_not():
    assert outcome_api.SERVICE_NAME == "autentikapp.v1.EventOutcomeService"
    assert outcome_api.ALLOWED_ROLES == {"ListEventOutcomes": {grpc_tls.DASHBOARD, grpc_tls.OPERATOR},
                                         "GetEventOutcome": {grpc_tls.DASHBOARD, grpc_tls.OPERATOR}}
    allowed = {f"/{outcome_api.SERVICE_NAME}/{m}": roles for m, roles in outcome_api.ALLOWED_ROLES.items()}
    method = f"/{outcome_api.SERVICE_NAME}/ListEventOutcomes"
    assert grpc_tls.refusal(method, grpc_tls.DASHBOARD, allowed) is None
    assert "may not call" in grpc_tls.refusal(method, grpc_tls.PROCESSOR, allowed)


def test_the_processor_certificate_serves_and_calls_and_still_names_its_role(tmp_path):
    dev_certificates.create(tmp_path)
    cert = x509.load_pem_x509_certificate((tmp_path / "processor.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == grpc_tls.PROCESSOR
    usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"processor", "localhost"}
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    operator = x509.load_pem_x509_certificate((tmp_path / "operator.crt").read_bytes())
    assert set(operator.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.CLIENT_AUTH}, "the other roles only call"


def test_make_run_gives_the_processor_a_port_and_every_process_its_address():
    spec = system.spec("processor")
    assert (spec.port_var, spec.default_port, spec.address_var) == (
        "PROCESSOR_GRPC_PORT", config.PROCESSOR_GRPC_DEFAULT_PORT, "PROCESSOR_ADDR")
    env = system.child_environment({}, {"processor": 61234})
    assert (env["PROCESSOR_GRPC_PORT"], env["PROCESSOR_ADDR"]) == ("61234", "127.0.0.1:61234")
