"""`autentikapp certs create DIR` (Compose's one-shot): a CA and every certificate, kept while valid, and a
directory it cannot write is one line, not a traceback."""

from __future__ import annotations

import json

from cryptography import x509

from cli.main import main
from common import dev_certificates


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_creates_every_certificate_then_keeps_them_while_valid(capsys, tmp_path):
    code, out, _ = run(capsys, "--json", "certs", "create", str(tmp_path))
    assert code == 0 and json.loads(out)["created"] is True
    names = ["ca", *dev_certificates.SERVERS, *dev_certificates.ROLES]
    assert {p.stem for p in tmp_path.glob("*.crt")} == set(names)
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in tmp_path.glob("*.key"))
    processor = x509.load_pem_x509_certificate((tmp_path / "processor.crt").read_bytes())
    assert processor.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "processor"
    before = (tmp_path / "ca.crt").read_bytes()
    code, out, _ = run(capsys, "--json", "certs", "create", str(tmp_path))
    assert json.loads(out)["created"] is False and (tmp_path / "ca.crt").read_bytes() == before


def test_a_directory_it_cannot_write_is_one_line(capsys, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    code, _, err = run(capsys, "certs", "create", str(tmp_path / "a-file" / "certs"))
    assert code == 1 and err.startswith("autentikapp: cannot write the certificates") and len(err.splitlines()) == 1



def test_a_processor_certificate_that_cannot_serve_is_made_again(tmp_path):
    """Certificates made before the processor served gRPC: valid for months still, but a client's only."""
    from cli.certs import still_valid
    from common import dev_certificates

    dev_certificates.create(tmp_path)
    assert still_valid(tmp_path)
    # The processor's certificate replaced by a client-only one of the same CA (the operator's).
    (tmp_path / "processor.crt").write_bytes((tmp_path / "operator.crt").read_bytes())
    assert not still_valid(tmp_path)
