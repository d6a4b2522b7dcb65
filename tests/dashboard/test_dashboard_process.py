"""The dashboard as it runs: `python -m dashboard migrate`, a bad setting refused at start, and `serve`
(gunicorn, gthread workers) answering over a real socket on an empty database it migrates itself."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from urllib.parse import urlencode

import psycopg
from dashboard_support import PASSWORD

from dashboard import db
from dashboard.audit import Actor
from dashboard.passwords import Passwords
from dashboard.settings import LoginLimits
from dashboard.users import UserStore
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from devstack.ready import http_ok
from devstack.system import REPO_ROOT


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python -m dashboard ARGS` from the checkout, with `env` over ours (less any DASHBOARD_ variable)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DASHBOARD_")}
    return subprocess.run([sys.executable, "-m", "dashboard", *args], env={**base, **env}, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)


def test_migrate_applies_once_then_finds_nothing_to_do(database_factory):
    url = database_factory("dashboard")
    first = run({"DASHBOARD_DATABASE_URL": url}, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied migrations 001_users" in first.stderr
    second = run({"DASHBOARD_DATABASE_URL": url}, "migrate")
    assert second.returncode == 0 and "schema is up to date" in second.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(
            list(db.MIGRATIONS.glob("*.sql")))


def test_a_bad_setting_stops_it_with_exit_2_naming_the_variable():
    result = run({"DASHBOARD_PORT": "eighty"}, "migrate")
    assert result.returncode == 2 and "DASHBOARD_PORT" in result.stderr


def test_an_unreachable_database_is_exit_1_in_one_line_without_the_password():
    port = free_port()
    result = run({"DASHBOARD_DATABASE_URL": f"postgresql://u:hunter2@127.0.0.1:{port}/x"}, "migrate")
    assert result.returncode == 1 and "hunter2" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_serve_migrates_then_signs_a_user_in_over_a_real_socket(tmp_path, database_factory):
    url = database_factory("dashboard")  # empty: serve applies the migrations first
    port = free_port()
    env = {"DASHBOARD_DATABASE_URL": url, "DASHBOARD_PORT": str(port), "BIND_HOST": "127.0.0.1",
           "DASHBOARD_WORKERS": "2", "DASHBOARD_THREADS": "2", "SHUTDOWN_GRACE_SECONDS": "2"}
    with ProcessGroup(tmp_path / "logs", grace=10) as group:
        group.start("dashboard", [sys.executable, "-m", "dashboard"], env, cwd=REPO_ROOT,
                    ready=http_ok(f"http://127.0.0.1:{port}/readyz"), ready_timeout=30)
        pool = db.open_pool(url)
        try:
            UserStore(pool, Passwords(), LoginLimits()).create_user("acme", "ana@acme.example", PASSWORD, "admin",
                                                                    Actor.cli("test"))
        finally:
            pool.close()

        status, cookies, body = request(port, "GET", "/login")
        assert status == 200 and '<html lang="es">' in body
        login_cookie = cookies[0].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
        form = urlencode({"csrf_token": token, "tenant": "acme", "email": "ana@acme.example", "password": PASSWORD})
        status, cookies, _ = request(port, "POST", "/login", form, {
            "Cookie": login_cookie, "Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, cookies
        (session_cookie,) = [c for c in cookies if c.startswith("__Host-autentikapp_dashboard=")]
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie  # secure by default
        cookie = session_cookie.split(";")[0]
        # Nothing answers at GATEWAY_ADMIN_ADDR here: the page says the service is unavailable (503).
        status, _, body = request(port, "GET", "/configuracion/integraciones/webhooks", headers={"Cookie": cookie})
        assert status == 503 and "Servicio no disponible" in body


def request(port: int, method: str, path: str, body: str | None = None, headers: dict | None = None):
    """One HTTP request: status, its Set-Cookie headers, the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        raw = response.read().decode()
        return response.status, response.msg.get_all("Set-Cookie") or [], raw
    finally:
        conn.close()
