"""The ``autentikapp`` CLI against fake gRPC services served in-process on a real port."""

from __future__ import annotations

import io
import json
import socket
import threading
from concurrent import futures
from types import SimpleNamespace

import grpc
import pytest
from tls_support import tls_files
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from autentikapp.v1 import (
    customer_pb2,
    customer_pb2_grpc,
    identifier_pb2,
    identifier_pb2_grpc,
)
from cli.main import main


def ts(text: str) -> Timestamp:
    """A Timestamp from RFC 3339 text."""
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def page_of(items: list, request) -> tuple[list, str]:
    """Offset pagination the way a real service might do it: the token is the next offset."""
    start = int(request.page_token or 0)
    end = start + (request.page_size or 100)
    return items[start:end], (str(end) if end < len(items) else "")


class FakeIdentifiers(identifier_pb2_grpc.IdentifierServiceServicer):
    """Identifiers kept in a dict; records what the CLI asked for."""

    def __init__(self) -> None:
        """Start empty."""
        self.store: dict[tuple[str, str], identifier_pb2.Identifier] = {}
        self.register_calls: list[list[str]] = []
        self.list_requests: list[identifier_pb2.ListIdentifiersRequest] = []
        self.fail_register_call: int | None = None  # 1-based call number that answers INVALID_ARGUMENT

    def RegisterIdentifiers(self, request, context):
        """Insert the new codes; count the rest as already registered."""
        self.register_calls.append(list(request.codes))
        if self.fail_register_call == len(self.register_calls):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "code 'bad code' has a space")
        unique = list(dict.fromkeys(request.codes))
        new = [c for c in unique if (request.tenant_id, c) not in self.store]
        for code in new:
            self.store[(request.tenant_id, code)] = identifier_pb2.Identifier(
                code=code, tenant_id=request.tenant_id
            )
        return identifier_pb2.RegisterIdentifiersResponse(
            registered=len(new), already_registered=len(unique) - len(new)
        )

    def GetIdentifier(self, request, context):
        """The identifier, or NOT_FOUND with a message like the real service's."""
        found = self.store.get((request.tenant_id, request.code))
        if found is None:
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"no identifier {request.code!r} for tenant {request.tenant_id!r}"
            )
        return identifier_pb2.GetIdentifierResponse(identifier=found)

    def ListIdentifiers(self, request, context):
        """The tenant's codes in code order, optionally one customer's."""
        self.list_requests.append(request)
        items = sorted(
            (
                i
                for (tenant, _), i in self.store.items()
                if tenant == request.tenant_id and request.customer_id in ("", i.customer_id)
            ),
            key=lambda i: i.code,
        )
        page, token = page_of(items, request)
        return identifier_pb2.ListIdentifiersResponse(identifiers=page, next_page_token=token)


class FakeCustomers(customer_pb2_grpc.CustomerServiceServicer):
    """Customers kept in a list."""

    def __init__(self) -> None:
        """Start with no customers and no delay."""
        self.customers: list[customer_pb2.Customer] = []
        self.find_requests: list[customer_pb2.FindCustomerRequest] = []
        self.delay = 0.0
        self.release = threading.Event()

    def GetCustomer(self, request, context):
        """By id within the tenant (after ``delay`` seconds, to test deadlines)."""
        if self.delay:
            self.release.wait(self.delay)
        for customer in self.customers:
            if customer.tenant_id == request.tenant_id and customer.id == request.customer_id:
                return customer_pb2.GetCustomerResponse(customer=customer)
        context.abort(grpc.StatusCode.NOT_FOUND, f"no customer {request.customer_id!r}")

    def FindCustomer(self, request, context):
        """By the one key field set."""
        self.find_requests.append(request)
        key = request.WhichOneof("key")
        for customer in self.customers:
            if customer.tenant_id == request.tenant_id and key and getattr(customer, key) == getattr(request, key):
                return customer_pb2.FindCustomerResponse(customer=customer)
        context.abort(grpc.StatusCode.NOT_FOUND, "no such customer")

    def ListCustomers(self, request, context):
        """The tenant's customers in insertion order."""
        items = [c for c in self.customers if c.tenant_id == request.tenant_id]
        page, token = page_of(items, request)
        return customer_pb2.ListCustomersResponse(customers=page, next_page_token=token)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def services(monkeypatch):
    """Both fake services on one real gRPC server on port 0; the env vars point at it."""
    identifiers, customers = FakeIdentifiers(), FakeCustomers()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    identifier_pb2_grpc.add_IdentifierServiceServicer_to_server(identifiers, server)
    customer_pb2_grpc.add_CustomerServiceServicer_to_server(customers, server)
    port = server.add_secure_port("127.0.0.1:0", tls_files("identifier-service").server_credentials())
    server.start()
    address = f"127.0.0.1:{port}"
    monkeypatch.setenv("CUSTOMER_SERVICE_ADDR", address)
    monkeypatch.setenv("IDENTIFIER_SERVICE_ADDR", address)
    yield SimpleNamespace(identifiers=identifiers, customers=customers, address=address)
    customers.release.set()
    server.stop(None)


@pytest.fixture
def cli(capsys):
    """Run the CLI; return (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        """One invocation."""
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def assert_one_error_line(err: str) -> str:
    """stderr is exactly one ``autentikapp: ...`` line; return it."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("autentikapp: ")
    assert "Traceback" not in err
    return err.rstrip("\n")


def key_value_lines(out: str) -> dict[str, str]:
    """Parse aligned ``key: value`` output, checking that the values start in one column."""
    lines = out.splitlines()
    columns = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in lines}
    assert len(columns) == 1, out
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines)}


CUSTOMER = customer_pb2.Customer(
    id="0b9c1e6a-0000-4000-8000-000000000001",
    tenant_id="demo",
    national_id="12345678K",
    email="ana@correo-tienda.co",
    phone_number="+56912345678",
    first_name="Ana",
    last_name="Pérez",
    created_at=ts("2025-01-02T03:04:05Z"),
    updated_at=ts("2025-01-03T03:04:05Z"),
)
ASSIGNED = identifier_pb2.Identifier(
    code="AK-0001",
    tenant_id="demo",
    customer_id=CUSTOMER.id,
    assigned_at=ts("2025-01-02T03:04:05Z"),
    transaction_id="T-1",
    product_sku="SKU-9",
    product_name="Reloj\x1b[31m rojo",
    event_id="evt-1",
    registered_at=ts("2025-01-01T00:00:00Z"),
)


# --- identifiers register -------------------------------------------------------------------------


def test_register_codes_from_arguments(services, cli):
    """Codes on the command line are sent once each; human output is aligned totals."""
    code, out, err = cli("identifiers", "register", "--tenant", "demo", "A", "B", "A")
    assert (code, err) == (0, "")
    assert services.identifiers.register_calls == [["A", "B"]]
    assert key_value_lines(out) == {
        "registered": "2",
        "already_registered": "0",
        "codes": "2",
        "duplicates_ignored": "1",
        "calls": "1",
    }


def test_register_file_is_sent_in_chunks_of_10000(services, cli, tmp_path):
    """25,000 codes (with comments and blank lines around) go out in three calls: 10k, 10k, 5k."""
    codes = [f"AK-{n:06d}" for n in range(25_000)]
    path = tmp_path / "codes.txt"
    path.write_text("# batch 7\n\n" + "\n".join(codes[:100]) + "\n   \n# more\n" + "\n".join(codes[100:]) + "\n")

    code, out, err = cli("identifiers", "register", "--tenant", "demo", "--file", str(path), "--json")
    assert (code, err) == (0, "")
    assert [len(call) for call in services.identifiers.register_calls] == [10_000, 10_000, 5_000]
    assert [c for call in services.identifiers.register_calls for c in call] == codes
    assert json.loads(out) == {
        "registered": 25_000,
        "already_registered": 0,
        "codes": 25_000,
        "duplicates_ignored": 0,
        "calls": 3,
    }

    code, out, _ = cli("--json", "identifiers", "register", "--tenant", "demo", "-f", str(path))
    assert code == 0
    assert json.loads(out)["already_registered"] == 25_000


def test_register_reads_stdin_for_dash(services, cli, monkeypatch):
    """``--file -`` reads the codes from stdin."""
    monkeypatch.setattr("sys.stdin", io.StringIO("# from the ERP\nX1\n\n  X2  \n#X3\n"))
    code, out, err = cli("identifiers", "register", "--tenant", "demo", "--file", "-")
    assert (code, err) == (0, "")
    assert services.identifiers.register_calls == [["X1", "X2"]]
    assert key_value_lines(out)["registered"] == "2"


def test_register_missing_file_says_so(services, cli, tmp_path):
    """A missing file is one line on stderr and exit 1, before any call."""
    missing = tmp_path / "nope.txt"
    code, out, err = cli("identifiers", "register", "--tenant", "demo", "--file", str(missing))
    assert (code, out) == (1, "")
    assert assert_one_error_line(err) == f"autentikapp: {missing}: no such file"
    assert services.identifiers.register_calls == []


def test_register_empty_input_is_an_error(services, cli, monkeypatch):
    """Nothing to register is a failure, not a silent success."""
    monkeypatch.setattr("sys.stdin", io.StringIO("# nothing\n\n"))
    code, _, err = cli("identifiers", "register", "--tenant", "demo", "--file", "-")
    assert code == 1
    assert assert_one_error_line(err) == "autentikapp: no codes to register in stdin"


def test_register_failure_in_a_later_chunk_reports_progress(services, cli, tmp_path):
    """When call 2 of 3 fails, the one line says how far it got and that a rerun is safe."""
    services.identifiers.fail_register_call = 2
    path = tmp_path / "codes.txt"
    path.write_text("\n".join(f"C{n}" for n in range(25_000)))
    code, out, err = cli("identifiers", "register", "--tenant", "demo", "--file", str(path))
    assert (code, out) == (1, "")
    assert assert_one_error_line(err) == (
        "autentikapp: invalid argument: code 'bad code' has a space (INVALID_ARGUMENT); "
        "stopped after 10,000 of 25,000 codes were sent (registering again is safe)"
    )


def test_register_needs_codes_or_file_but_not_both(services, cli, tmp_path):
    """Usage errors exit 2 (argparse)."""
    assert cli("identifiers", "register", "--tenant", "demo")[0] == 2
    assert cli("identifiers", "register", "--tenant", "demo", "A", "--file", "x")[0] == 2
    assert cli("identifiers", "register", "A")[0] == 2  # no --tenant
    assert services.identifiers.register_calls == []


# --- identifiers get / list -----------------------------------------------------------------------


def test_get_identifier_human_and_json(services, cli):
    """Human output is aligned lines with provenance; JSON is MessageToDict of the Identifier."""
    services.identifiers.store[("demo", ASSIGNED.code)] = ASSIGNED

    code, out, err = cli("identifiers", "get", "--tenant", "demo", "AK-0001")
    assert (code, err) == (0, "")
    fields = key_value_lines(out)
    assert fields["customer_id"] == CUSTOMER.id
    assert fields["assigned_at"] == "2025-01-02T03:04:05Z"
    assert fields["transaction_id"] == "T-1"
    assert fields["event_id"] == "evt-1"
    assert fields["product_name"] == "Reloj?[31m rojo"  # no raw escape sequence reaches the terminal
    assert list(fields)[0] == "code"

    code, out, err = cli("identifiers", "get", "--tenant", "demo", "AK-0001", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == MessageToDict(ASSIGNED, preserving_proto_field_name=True)


def test_get_unassigned_identifier_shows_dashes(services, cli):
    """Unset fields print as ``-`` in human output."""
    services.identifiers.store[("demo", "FREE")] = identifier_pb2.Identifier(code="FREE", tenant_id="demo")
    code, out, _ = cli("identifiers", "get", "--tenant", "demo", "FREE")
    assert code == 0
    fields = key_value_lines(out)
    assert fields["customer_id"] == "-" and fields["assigned_at"] == "-"


def test_get_identifier_not_found_exits_3(services, cli):
    """NOT_FOUND: exit 3 and one line with the reason, the server's details and the code name."""
    code, out, err = cli("identifiers", "get", "--tenant", "demo", "X")
    assert (code, out) == (3, "")
    assert assert_one_error_line(err) == "autentikapp: not found: no identifier 'X' for tenant 'demo' (NOT_FOUND)"


def test_list_identifiers_follows_pages_until_limit(services, cli):
    """Pages are followed until --limit; the last request asks only for what is still missing."""
    for n in range(7):
        services.identifiers.store[("demo", f"C{n}")] = identifier_pb2.Identifier(code=f"C{n}", tenant_id="demo")
    services.identifiers.store[("other", "Z")] = identifier_pb2.Identifier(code="Z", tenant_id="other")

    code, out, err = cli("identifiers", "list", "--tenant", "demo", "--page-size", "2", "--limit", "5")
    assert code == 0
    assert [r.page_size for r in services.identifiers.list_requests] == [2, 2, 1]
    assert [r.page_token for r in services.identifiers.list_requests] == ["", "2", "4"]
    lines = out.splitlines()
    assert lines[0].split() == ["code", "customer_id", "assigned_at", "transaction_id", "product_sku"]
    assert [line.split()[0] for line in lines[1:]] == ["C0", "C1", "C2", "C3", "C4"]
    assert "more" in err  # a hint for humans, on stderr

    code, out, err = cli("identifiers", "list", "--tenant", "demo", "--page-size", "3", "--limit", "0", "--json")
    assert (code, err) == (0, "")
    assert [item["code"] for item in json.loads(out)] == [f"C{n}" for n in range(7)]


def test_list_identifiers_of_one_customer(services, cli):
    """--customer is passed through; the table shows the link."""
    services.identifiers.store[("demo", ASSIGNED.code)] = ASSIGNED
    services.identifiers.store[("demo", "FREE")] = identifier_pb2.Identifier(code="FREE", tenant_id="demo")
    code, out, _ = cli("identifiers", "list", "--tenant", "demo", "--customer", CUSTOMER.id)
    assert code == 0
    assert services.identifiers.list_requests[0].customer_id == CUSTOMER.id
    rows = out.splitlines()[1:]
    assert len(rows) == 1 and rows[0].split()[:3] == ["AK-0001", CUSTOMER.id, "2025-01-02T03:04:05Z"]


def test_list_identifiers_empty(services, cli):
    """An empty list says so in human mode and is ``[]`` in JSON."""
    assert cli("identifiers", "list", "--tenant", "demo")[:2] == (0, "no identifiers\n")
    code, out, _ = cli("identifiers", "list", "--tenant", "demo", "--json")
    assert (code, json.loads(out)) == (0, [])


# --- customers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--national-id", "12345678K", "national_id"),
        ("--email", "ana@correo-tienda.co", "email"),
        ("--phone", "+56912345678", "phone_number"),
    ],
)
def test_find_customer_by_each_key(services, cli, option, value, field):
    """Each option fills its oneof field; human output lists the customer's fields."""
    services.customers.customers.append(CUSTOMER)
    code, out, err = cli("customers", "find", "--tenant", "demo", option, value)
    assert (code, err) == (0, "")
    assert services.customers.find_requests[0].WhichOneof("key") == field
    fields = key_value_lines(out)
    assert fields["id"] == CUSTOMER.id and fields["last_name"] == "Pérez"
    assert fields["whatsapp_number"] == "-"


def test_find_customer_json_and_not_found(services, cli):
    """JSON is the Customer; an unknown e-mail exits 3."""
    services.customers.customers.append(CUSTOMER)
    code, out, _ = cli("customers", "find", "--tenant", "demo", "--email", "ana@correo-tienda.co", "--json")
    assert code == 0
    assert json.loads(out) == MessageToDict(CUSTOMER, preserving_proto_field_name=True)

    code, out, err = cli("customers", "find", "--tenant", "demo", "--email", "bob@correo-tienda.co")
    assert (code, out) == (3, "")
    assert assert_one_error_line(err) == "autentikapp: not found: no such customer (NOT_FOUND)"


def test_find_customer_needs_exactly_one_key(services, cli):
    """None or two keys is a usage error."""
    assert cli("customers", "find", "--tenant", "demo")[0] == 2
    assert cli("customers", "find", "--tenant", "demo", "--email", "a@b.c", "--phone", "+1")[0] == 2


def test_get_customer(services, cli):
    """By id, human and JSON; another tenant's id is NOT_FOUND."""
    services.customers.customers.append(CUSTOMER)
    code, out, _ = cli("customers", "get", "--tenant", "demo", CUSTOMER.id)
    assert code == 0
    assert key_value_lines(out)["updated_at"] == "2025-01-03T03:04:05Z"
    code, out, _ = cli("--json", "customers", "get", "--tenant", "demo", CUSTOMER.id)
    assert json.loads(out)["email"] == "ana@correo-tienda.co"
    assert cli("customers", "get", "--tenant", "other", CUSTOMER.id)[0] == 3


def test_list_customers(services, cli):
    """A table in human mode, a JSON array otherwise, limited by --limit."""
    for n in range(3):
        services.customers.customers.append(
            customer_pb2.Customer(id=f"id-{n}", tenant_id="demo", email=f"c{n}@correo-tienda.co")
        )
    code, out, _ = cli("customers", "list", "--tenant", "demo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["id", "national_id", "email"]
    assert lines[1].split()[:3] == ["id-0", "-", "c0@correo-tienda.co"]
    code, out, err = cli("customers", "list", "--tenant", "demo", "--limit", "2", "--json")
    assert (code, err) == (0, "")
    assert [c["id"] for c in json.loads(out)] == ["id-0", "id-1"]


# --- addresses, reachability, deadlines --------------------------------------------------------------


def test_unavailable_names_the_address_and_env_var(cli, monkeypatch):
    """A closed port: exit 1, one line naming the address tried and the variable that sets it."""
    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("IDENTIFIER_SERVICE_ADDR", address)
    code, out, err = cli("identifiers", "get", "--tenant", "demo", "X")
    assert (code, out) == (1, "")
    line = assert_one_error_line(err)
    assert f"the identifier service at {address} is unavailable" in line
    assert "(UNAVAILABLE)" in line and "IDENTIFIER_SERVICE_ADDR" in line


def test_address_option_overrides_env_var(services, cli, monkeypatch):
    """--identifier-service wins over the env var, and an unreachable one is blamed on the option."""
    monkeypatch.setenv("IDENTIFIER_SERVICE_ADDR", f"127.0.0.1:{closed_port()}")
    code, out, _ = cli("--identifier-service", services.address, "identifiers", "list", "--tenant", "demo")
    assert (code, out) == (0, "no identifiers\n")

    dead = f"127.0.0.1:{closed_port()}"
    code, _, err = cli("identifiers", "list", "--tenant", "demo", "--identifier-service", dead)
    assert code == 1
    assert assert_one_error_line(err).endswith("(UNAVAILABLE); the address came from --identifier-service")


def test_malformed_env_var_is_a_config_error(cli, monkeypatch):
    """A bad *_SERVICE_ADDR prints common.config's message."""
    monkeypatch.setenv("CUSTOMER_SERVICE_ADDR", "nohostport")
    code, _, err = cli("customers", "list", "--tenant", "demo")
    assert code == 1
    assert assert_one_error_line(err) == "autentikapp: CUSTOMER_SERVICE_ADDR: expected host:port, got 'nohostport'"


def test_deadline_exceeded_is_reported(services, cli):
    """Every call has a deadline (--timeout); missing it is one readable line."""
    services.customers.delay = 5.0
    code, _, err = cli("--timeout", "0.2", "customers", "get", "--tenant", "demo", "x")
    assert code == 1
    line = assert_one_error_line(err)
    assert "did not answer within 0.2s (DEADLINE_EXCEEDED)" in line


def test_help_and_bad_global_options(cli):
    """--help exits 0; a non-positive --timeout or a malformed address is a usage error."""
    code, out, _ = cli("--help")
    assert code == 0 and "identifiers" in out and "customers" in out
    assert cli("--timeout", "0", "customers", "list", "--tenant", "t")[0] == 2
    assert cli("customers", "list", "--tenant", "t", "--customer-service", "nope")[0] == 2
    assert cli()[0] == 2
