"""``autentikapp dashboard users create|list|disable`` on real Postgres: the password from a file, a
variable or a prompt (never argv), what is printed (never the password), the audit actor, refusals, and a
database that is down."""

from __future__ import annotations

import json
import re

import psycopg
import pytest

from cli.main import main
from common import migrations
from dashboard import db
from dashboard.passwords import Passwords
from dashboard.sessions import SessionStore
from dashboard.settings import LoginLimits
from dashboard.users import UserStore

PASSWORD = "a long dashboard password"
ADDRESS = "198.51.100.4"


@pytest.fixture
def dashboard_url(monkeypatch, database_factory) -> str:
    """An empty database (the CLI applies the dashboard's migrations itself), and no password in the env."""
    url = database_factory("dashboard_cli")
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", url)
    monkeypatch.delenv("AUTENTIKAPP_DASHBOARD_PASSWORD", raising=False)
    return url


@pytest.fixture
def pool(dashboard_url):
    """A pool on the same database, migrated here (some tests never let the CLI reach it)."""
    migrations.apply(dashboard_url, db.MIGRATIONS)
    pool = db.open_pool(dashboard_url)
    yield pool
    pool.close()


@pytest.fixture
def store(pool):
    """The dashboard's own UserStore, to check what the CLI did."""
    return UserStore(pool, Passwords(), LoginLimits())


def cli(capsys, *args: str) -> tuple[int, object, str]:
    code = main(["--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def create(capsys, *args: str) -> tuple[int, object, str]:
    return cli(capsys, "dashboard", "users", "create", *args)


def test_create_with_the_password_from_the_environment_then_sign_in_with_it(monkeypatch, capsys, dashboard_url):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    code, created, err = create(capsys, "acme", "Ana@ACME.example", "--role", "admin")
    assert code == 0, err
    assert created == {"id": created["id"], "tenant_id": "acme", "email": "ana@acme.example", "role": "admin",
                       "active": True, "created_at": created["created_at"], "disabled_at": None}
    assert PASSWORD not in json.dumps(created) + err and "argon2" not in json.dumps(created)

    pool = db.open_pool(dashboard_url)
    try:
        users = UserStore(pool, Passwords(), LoginLimits())
        signed = users.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS)
        assert signed.user is not None and signed.user.id == created["id"] and signed.user.is_admin
        assert users.authenticate("acme", "ana@acme.example", PASSWORD + "x", ADDRESS).user is None
        (entry,) = [e for e in users.audit_entries("acme") if e.action == "user.created"]
        assert entry.actor.startswith("cli:") and entry.user_id is None
        assert entry.details == {"email": "ana@acme.example", "role": "admin"}
        with psycopg.connect(dashboard_url) as conn:
            stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
        assert stored.startswith("$argon2id$") and "m=65536,t=3,p=4" in stored  # production parameters
    finally:
        pool.close()


def test_create_with_the_password_from_a_file(capsys, store, tmp_path):
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")  # as `echo` or an editor leaves it
    code, created, err = create(capsys, "acme", "vic@acme.example", "--role", "viewer", "--password-file",
                                str(secret_file))
    assert code == 0, err
    assert created["role"] == "viewer"
    assert store.authenticate("acme", "vic@acme.example", PASSWORD, ADDRESS).user is not None


def test_a_password_file_keeps_its_spaces(capsys, store, tmp_path):
    secret_file = tmp_path / "password"
    secret_file.write_text(f"  {PASSWORD}  \r\n")
    assert create(capsys, "acme", "vic@acme.example", "--role", "viewer", "--password-file", str(secret_file))[0] == 0
    assert store.authenticate("acme", "vic@acme.example", f"  {PASSWORD}  ", ADDRESS).user is not None


def test_create_with_the_password_from_a_named_variable(monkeypatch, capsys, store):
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", "not this one at all")
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin", "--password-env",
                          "FIRST_ADMIN_PASSWORD")
    assert code == 0, err
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user is not None


@pytest.mark.parametrize("argv", [["--password", PASSWORD], [f"--password={PASSWORD}"]])
def test_a_password_on_the_command_line_is_refused(capsys, store, argv):
    code, out, err = create(capsys, "acme", "ana@acme.example", "--role", "admin", *argv)
    assert code == 2 and out is None
    assert "--password is not accepted" in err and "AUTENTIKAPP_DASHBOARD_PASSWORD" in err
    assert PASSWORD not in err
    assert store.list_users("acme") == []


def test_a_duplicate_is_a_clear_error(monkeypatch, capsys, store):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    assert create(capsys, "acme", "ana@acme.example", "--role", "admin")[0] == 0
    code, out, err = create(capsys, "acme", "ANA@acme.example", "--role", "viewer")
    assert code == 1 and out is None
    assert err.strip() == "autentikapp: ana@acme.example already has an account in this tenant"
    assert [(u.email, u.role) for u in store.list_users("acme")] == [("ana@acme.example", "admin")]
    assert create(capsys, "globex", "ana@acme.example", "--role", "viewer")[0] == 0  # per tenant


@pytest.mark.parametrize("tenant, email, password, message", [
    ("acme", "ana@acme.example", "too short", "the password must have at least 12 characters"),
    ("acme", "ana@acme.example", "ana@acme.example", "the password must not be the e-mail address"),
    ("acme", "not-an-address", PASSWORD, "email is not a valid e-mail address"),
    ("acme/x", "ana@acme.example", PASSWORD, "tenant_id must be 1-64 letters"),
])
def test_refused_input_is_one_line_and_creates_nothing(monkeypatch, capsys, dashboard_url, store, tenant, email,
                                                       password, message):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", password)
    code, _, err = create(capsys, tenant, email, "--role", "admin")
    assert code == 1 and len(err.strip().splitlines()) == 1 and message in err
    assert password not in err or password == email
    with psycopg.connect(dashboard_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0


@pytest.mark.parametrize("argv", [[], ["--role", "owner"]])
def test_the_role_is_required_and_checked(monkeypatch, capsys, store, argv):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    code, _, err = create(capsys, "acme", "ana@acme.example", *argv)
    assert code == 2 and "--role" in err
    assert store.list_users("acme") == []


def test_no_password_and_no_terminal_says_what_to_do(monkeypatch, capsys, store):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin")
    assert code == 1 and "no password" in err and "AUTENTIKAPP_DASHBOARD_PASSWORD" in err
    assert "--password-file" in err
    assert store.list_users("acme") == []


def test_a_named_variable_that_is_unset_is_an_error_not_a_prompt(monkeypatch, capsys, store):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": pytest.fail("prompted"))
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin", "--password-env", "NOPE_UNSET")
    assert code == 1 and "$NOPE_UNSET is unset or empty" in err


def test_in_a_terminal_the_password_is_asked_twice(monkeypatch, capsys, store):
    prompts = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or PASSWORD)
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin")
    assert code == 0, err
    assert prompts == ["Password for ana@acme.example: ", "The same password again: "]
    assert store.authenticate("acme", "ana@acme.example", PASSWORD, ADDRESS).user is not None


def test_two_different_answers_at_the_prompt_create_nothing(monkeypatch, capsys, store):
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin")
    assert code == 1 and "the two passwords differ" in err
    assert store.list_users("acme") == []


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_a_missing_or_empty_password_file_is_an_error(capsys, store, tmp_path, content):
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    code, _, err = create(capsys, "acme", "ana@acme.example", "--role", "admin", "--password-file", str(path))
    assert code == 1 and str(path) in err and len(err.strip().splitlines()) == 1
    assert store.list_users("acme") == []


def test_list_and_disable(monkeypatch, capsys, pool, store):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    ana = create(capsys, "acme", "ana@acme.example", "--role", "admin")[1]
    vic = create(capsys, "acme", "vic@acme.example", "--role", "viewer")[1]
    gina = create(capsys, "globex", "gina@globex.example", "--role", "admin")[1]
    vic_user = store.get_user("acme", vic["id"])
    sessions = SessionStore(pool, lifetime_seconds=3600, idle_seconds=600)
    token, _ = sessions.create(vic_user, "es")

    code, listed, _ = cli(capsys, "dashboard", "users", "list", "acme")
    assert code == 0 and [(u["email"], u["role"], u["active"]) for u in listed] == [
        ("ana@acme.example", "admin", True), ("vic@acme.example", "viewer", True)]
    assert PASSWORD not in json.dumps(listed) and "argon2" not in json.dumps(listed)

    code, disabled, _ = cli(capsys, "dashboard", "users", "disable", "acme", str(vic["id"]))
    assert code == 0 and disabled["active"] is False and disabled["disabled_at"]
    assert sessions.lookup(token) is None  # their session ended at once
    assert store.authenticate("acme", "vic@acme.example", PASSWORD, ADDRESS).user is None
    (entry,) = [e for e in store.audit_entries("acme") if e.action == "user.disabled"]
    assert entry.actor.startswith("cli:") and entry.target == f"user:{vic['id']}"

    code, again, _ = cli(capsys, "dashboard", "users", "disable", "acme", str(vic["id"]))  # idempotent
    assert code == 0 and again["disabled_at"] == disabled["disabled_at"]
    assert [u["active"] for u in cli(capsys, "dashboard", "users", "list", "acme")[1]] == [True, False]

    code, _, err = cli(capsys, "dashboard", "users", "disable", "acme", str(gina["id"]))  # another tenant's
    assert code == 3 and err.strip() == f"autentikapp: no user {gina['id']}"
    assert store.get_user("globex", gina["id"]).active
    assert cli(capsys, "dashboard", "users", "disable", "acme", "999999")[0] == 3
    assert cli(capsys, "dashboard", "users", "disable", "acme", "x")[0] == 2
    assert store.get_user("acme", ana["id"]).active


def test_text_output(monkeypatch, capsys, store):
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    assert main(["dashboard", "users", "create", "acme", "ana@acme.example", "--role", "admin"]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^email: +ana@acme\.example$", out, re.MULTILINE)
    assert re.search(r"^disabled_at: +-$", out, re.MULTILINE)
    assert "can sign in to the dashboard with customer ID acme" in err and PASSWORD not in out + err
    assert main(["dashboard", "users", "list", "acme"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[0].split() == ["id", "email", "role", "active", "created_at", "disabled_at"]
    assert "ana@acme.example" in out and "admin" in out
    assert main(["dashboard", "users", "list", "nobody"]) == 0
    assert capsys.readouterr().out.strip() == "no users"


def test_database_url_is_the_fallback(monkeypatch, capsys, dashboard_url):
    monkeypatch.delenv("DASHBOARD_DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL", dashboard_url)
    code, listed, _ = cli(capsys, "dashboard", "users", "list", "acme")
    assert code == 0 and listed == []


def test_a_database_that_is_down_is_one_line_naming_the_redacted_url(monkeypatch, capsys):
    from devstack.ports import free_port

    port = free_port()
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", f"postgresql://u:hunter2@127.0.0.1:{port}/dash")
    monkeypatch.setenv("AUTENTIKAPP_DASHBOARD_PASSWORD", PASSWORD)
    for argv in (["list", "acme"], ["create", "acme", "ana@acme.example", "--role", "admin"],
                 ["disable", "acme", "1"]):
        code = main(["dashboard", "users", *argv])
        _, err = capsys.readouterr()
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "hunter2" not in err and PASSWORD not in err
        assert f"127.0.0.1:{port}" in err and "DASHBOARD_DATABASE_URL" in err


def test_help(capsys):
    assert main(["dashboard", "users", "create", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--password-file" in out and "--password-env" in out and "--password " not in out
    assert main(["dashboard", "users"]) == 2
