"""Sign-in through an OpenID Connect provider (dashboard/oidc.py), against a fake provider that is a real
HTTP server on 127.0.0.1 (discovery, JWKS, token endpoint). The tests read the redirect to its
authorization endpoint, mint a code there as the provider would after its own sign-in, and bring the
browser (Flask's test client) back to the callback with it."""

from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from dashboard_support import PASSWORD, csrf_token, make_people, settings, sign_in
from joserfc import jwt
from joserfc.jwk import RSAKey

from dashboard.app import close_app, create_app
from dashboard.audit import Actor
from dashboard.settings import OidcSettings
from dashboard.sessions import SECURE_COOKIE

PAGE = "/configuracion/integraciones/webhooks"
CLIENT_ID = "autentikapp-dashboard"
CLIENT_SECRET = "s3cret+with/odd=chars"
REDIRECT_URI = "http://localhost/login/oidc/callback"  # the test client's host
FAILED = "El ID de cliente, el correo o la contraseña no son correctos."
EXPIRED = "El inicio de sesión con Acme SSO ha caducado o ya se usó."


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, RSAKey]:
    return {name: RSAKey.generate_key(2048, parameters={"kid": name}) for name in ("k1", "k2", "rogue")}


class FakeProvider:
    """An OpenID provider on a real socket: what its token endpoint answers is up to the test."""

    def __init__(self, clock, keys: dict[str, RSAKey], auth_methods=("client_secret_basic",)):
        self.clock = clock
        self.keys = keys
        self.published = ["k1"]  # kids in its JWKS
        self.signing_kid = "k1"
        self.auth_methods = list(auth_methods)
        self.email = "ana@acme.example"
        self.claims: dict = {}  # overrides of the next ID tokens' claims (None: leave the claim out)
        self.header: dict = {}
        self.codes: dict[str, dict] = {}
        self.hits: list[str] = []
        self.token_requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                provider.hits.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif self.path == "/jwks":
                    keys = [provider.keys[kid].as_dict(private=False) for kid in provider.published]
                    self._json(200, {"keys": [{**k, "use": "sig", "alg": "RS256"} for k in keys]})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                provider.hits.append(self.path)
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = provider.token(form, self.headers.get("Authorization"))
                self._json(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def discovery(self) -> dict:
        return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": self.auth_methods,
                "code_challenge_methods_supported": ["S256"]}

    def authorize(self, location: str, **extra: str) -> dict[str, str]:
        """What the provider does at its authorization endpoint once its user has signed in: check the
        request and send the browser back with a code (the callback's query)."""
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.issuer}/authorize"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["scope"] == "openid email" and query["code_challenge_method"] == "S256"
        assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43 and query["state"] != query["nonce"]
        code = f"code-{len(self.codes) + 1}"
        self.codes[code] = query
        return {"code": code, "state": query["state"], **extra}

    def id_token(self, request: dict) -> str:
        now = int(self.clock.now.timestamp())
        claims = {"iss": self.issuer, "sub": "idp-user-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": request["nonce"], "email": self.email, "email_verified": True}
        for key, value in self.claims.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        header = {"alg": "RS256", "kid": self.signing_kid, **self.header}
        key = self.keys["rogue"] if self.signing_kid == "rogue-as-k1" else self.keys[self.signing_kid]
        if self.signing_kid == "rogue-as-k1":
            header["kid"] = "k1"
        return jwt.encode(header, claims, key)

    def token(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        """The token endpoint: the client's credentials, a code it issued (once), the PKCE verifier of
        its challenge and the same redirect URI; then an ID token for the nonce of that request."""
        self.token_requests.append({**form, "authorization": authorization})
        if authorization:
            user, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
            client_id, client_secret = unquote_plus(user), unquote_plus(secret)
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        request = self.codes.pop(form.get("code", ""), None)
        if (request is None or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != request["redirect_uri"]
                or create_s256_code_challenge(form.get("code_verifier", "")) != request["code_challenge"]):
            return 400, {"error": "invalid_grant"}
        return 200, {"access_token": "at-opaque", "token_type": "Bearer", "expires_in": 300,
                     "id_token": self.id_token(request)}


@pytest.fixture
def provider(clock, signing_keys):
    fake = FakeProvider(clock, signing_keys)
    yield fake
    fake.close()


def oidc_settings(issuer: str, **overrides) -> OidcSettings:
    values = {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "button_label": "Acme SSO"}
    return OidcSettings(**{**values, **overrides})


@pytest.fixture
def sso_app(dashboard_db, gateway, outcomes, passwords, clock, provider):
    app = create_app(settings(dashboard_db, oidc=oidc_settings(provider.issuer)), tenant_admin=gateway,
                     event_outcomes=outcomes, passwords=passwords, clock=clock)
    yield app
    close_app(app)


@pytest.fixture
def sso_people(sso_app):
    return make_people(sso_app.extensions["dashboard"].users)


@pytest.fixture
def browser(sso_app, sso_people):
    return sso_app.test_client()


def start(client, tenant: str = "acme"):
    """Submit the sign-in page's single sign-on form; the answer is the redirect to the provider."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login/oidc", data={"csrf_token": token, "tenant": tenant})


def sso_sign_in(client, provider: FakeProvider, tenant: str = "acme"):
    """The whole round trip: the form, the provider, the callback. Returns the callback's answer."""
    location = start(client, tenant).headers["Location"]
    return client.get("/login/oidc/callback?" + urlencode(provider.authorize(location)))


def set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def rows(app, sql: str) -> list[dict]:
    with app.extensions["dashboard"].pool.connection() as conn:
        return conn.execute(sql).fetchall()


def assert_no_session(client) -> None:
    assert client.get_cookie(SECURE_COOKIE) is None
    assert client.get(PAGE).headers["Location"] == "/login"


def test_a_verified_email_of_an_active_user_signs_in_and_lands_on_the_webhooks_page(sso_app, browser, provider,
                                                                                     sso_people, clock):
    redirect = start(browser)
    assert redirect.status_code == 303
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["code_challenge"][0] != query["state"][0]
    response = browser.get("/login/oidc/callback?" + urlencode(provider.authorize(redirect.headers["Location"])))
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    header = set_cookies(response)[SECURE_COOKIE]
    assert "HttpOnly" in header and "Secure" in header and "SameSite=Lax" in header
    page = browser.get(PAGE)
    assert page.status_code == 200 and "ana@acme.example" in page.get_data(as_text=True)
    exchange = provider.token_requests[-1]
    assert exchange["authorization"].startswith("Basic ") and "client_secret" not in exchange
    assert exchange["code_verifier"] and exchange["redirect_uri"] == REDIRECT_URI
    entry = sso_app.extensions["dashboard"].users.audit_entries("acme")[0]
    assert (entry.action, entry.user_id, entry.details, entry.at) == (
        "user.signed_in", sso_people["acme_admin"].id, {"method": "oidc"}, clock.now)
    assert rows(sso_app, "SELECT * FROM oidc_logins") == []  # deleted on use


def test_the_sign_in_page_offers_the_provider_and_lets_its_form_lead_there(browser, provider):
    response = browser.get("/login")
    body = response.get_data(as_text=True)
    assert 'action="/login/oidc"' in body and "Entrar con Acme SSO" in body
    assert '<label for="sso-tenant">' in body and 'id="sso-tenant"' in body
    assert f"form-action 'self' {provider.issuer};" in response.headers["Content-Security-Policy"]
    assert "Sign in with Acme SSO" in browser.get("/login?lang=en").get_data(as_text=True)


def test_the_discovery_document_and_keys_are_fetched_once_per_worker(sso_app, provider, sso_people):
    for _ in range(2):
        assert sso_sign_in(sso_app.test_client(), provider).status_code == 303
    assert provider.hits.count("/.well-known/openid-configuration") == 1
    assert provider.hits.count("/jwks") == 1


def test_keys_rotated_by_the_provider_are_fetched_again(sso_app, provider, sso_people):
    assert sso_sign_in(sso_app.test_client(), provider).status_code == 303
    provider.published, provider.signing_kid = ["k1", "k2"], "k2"
    assert sso_sign_in(sso_app.test_client(), provider).status_code == 303
    assert provider.hits.count("/jwks") == 2


@pytest.mark.parametrize("case, claims, header", [
    ("wrong nonce", {"nonce": "another-nonce"}, {}),
    ("no nonce", {"nonce": None}, {}),
    ("wrong audience", {"aud": "another-client"}, {}),
    ("wrong issuer", {"iss": "https://evil.example"}, {}),
    ("expired", {"exp": "EXPIRED"}, {}),
    ("issued in the future", {"iat": "FUTURE"}, {}),
    ("e-mail not verified", {"email_verified": False}, {}),
    ("e-mail verified as text", {"email_verified": "true"}, {}),
    ("no e-mail", {"email": None}, {}),
    ("no e-mail_verified", {"email_verified": None}, {}),
    ("unknown e-mail", {"email": "nobody@acme.example"}, {}),
    ("another tenant's user", {"email": "gina@globex.example"}, {}),
])
def test_an_id_token_that_fails_a_check_signs_nobody_in(sso_app, browser, provider, clock, case, claims, header):
    now = int(clock.now.timestamp())
    provider.claims = {k: {"EXPIRED": now - 120, "FUTURE": now + 600}.get(v, v) if isinstance(v, str) else v
                       for k, v in claims.items()}
    response = sso_sign_in(browser, provider)
    body = response.get_data(as_text=True)
    assert response.status_code == 401 and FAILED in body, case
    assert SECURE_COOKIE not in set_cookies(response)
    assert 'value="acme"' in body  # the customer ID is kept to try again
    assert_no_session(browser)
    assert not [e for e in sso_app.extensions["dashboard"].users.audit_entries("acme") if e.action == "user.signed_in"]


def test_a_token_signed_with_another_key_is_refused(browser, provider):
    provider.signing_kid = "rogue-as-k1"  # the published kid, another key's signature
    response = sso_sign_in(browser, provider)
    assert response.status_code == 401 and FAILED in response.get_data(as_text=True)
    assert_no_session(browser)


def test_an_unsigned_token_is_refused(browser, provider, monkeypatch):
    def unsigned(request):
        now = int(provider.clock.now.timestamp())
        claims = {"iss": provider.issuer, "sub": "x", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": request["nonce"], "email": "ana@acme.example", "email_verified": True}
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."

    monkeypatch.setattr(provider, "id_token", unsigned)
    assert sso_sign_in(browser, provider).status_code == 401
    assert_no_session(browser)


def test_a_disabled_user_cannot_sign_in_through_the_provider(sso_app, browser, provider, sso_people):
    users = sso_app.extensions["dashboard"].users
    users.disable_user("acme", sso_people["acme_admin"].id, Actor.cli("test"))
    assert sso_sign_in(browser, provider).status_code == 401
    assert_no_session(browser)


def test_a_viewer_signs_in_as_the_viewer_it_is(sso_app, browser, provider, sso_people):
    provider.email = "Victor@ACME.example"  # e-mails are compared normalised
    assert sso_sign_in(browser, provider).status_code == 303
    assert "victor@acme.example (lector)" in browser.get(PAGE).get_data(as_text=True)


def test_a_reused_state_is_refused_with_400(sso_app, browser, provider):
    location = start(browser).headers["Location"]
    callback = "/login/oidc/callback?" + urlencode(provider.authorize(location))
    state_cookie = browser.get_cookie("__Host-autentikapp_oidc").value
    assert browser.get(callback).status_code == 303
    replay = sso_app.test_client()  # another browser replaying the callback, with the same cookie
    replay.set_cookie("__Host-autentikapp_oidc", state_cookie)
    response = replay.get(callback)
    assert response.status_code == 400 and EXPIRED in response.get_data(as_text=True)
    assert_no_session(replay)


def test_an_unknown_or_missing_state_is_refused_with_400(browser, provider):
    start(browser)
    for query in ("?code=code-1&state=forged", "?code=code-1", ""):
        response = browser.get("/login/oidc/callback" + query)
        assert response.status_code == 400 and EXPIRED in response.get_data(as_text=True)
    assert provider.token_requests == []
    assert_no_session(browser)


def test_a_sign_in_left_for_more_than_ten_minutes_has_expired(browser, provider, clock):
    location = start(browser).headers["Location"]
    clock.advance(minutes=10, seconds=1)
    response = browser.get("/login/oidc/callback?" + urlencode(provider.authorize(location)))
    assert response.status_code == 400 and provider.token_requests == []
    assert_no_session(browser)


def test_only_the_browser_that_started_a_sign_in_can_finish_it(sso_app, browser, provider):
    """Login CSRF: a callback URL with someone else's code and state signs the victim in as nobody."""
    location = start(browser).headers["Location"]
    callback = "/login/oidc/callback?" + urlencode(provider.authorize(location))
    victim = sso_app.test_client()
    assert victim.get(callback).status_code == 400
    assert_no_session(victim)
    assert browser.get(callback).status_code == 303  # the pending login was not spent by the refusal


def test_the_provider_refusing_or_an_error_from_it_signs_nobody_in(browser, provider):
    location = start(browser).headers["Location"]
    query = provider.authorize(location)
    provider.codes.clear()  # the provider no longer knows the code (invalid_grant)
    assert browser.get("/login/oidc/callback?" + urlencode(query)).status_code == 401
    location = start(browser).headers["Location"]
    denied = {"error": "access_denied", "state": provider.authorize(location)["state"]}
    assert browser.get("/login/oidc/callback?" + urlencode(denied)).status_code == 401
    assert_no_session(browser)


def test_failures_count_for_the_account_and_the_address_as_password_failures_do(sso_app, browser, provider,
                                                                                   sso_people):
    provider.email = "nobody@acme.example"
    assert [sso_sign_in(browser, provider).status_code for _ in range(2)] == [401, 401]
    locked = sso_sign_in(browser, provider)  # the third failure of the account (test limit: 3)
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "600"
    kinds = {r["kind"]: r["failures"] for r in rows(sso_app, "SELECT kind, failures FROM login_throttle")}
    assert kinds == {"account": 3, "address": 3}


def test_a_locked_account_cannot_sign_in_through_the_provider_either(browser, provider):
    for _ in range(3):
        sign_in(browser, "acme", "ana@acme.example", "wrong password!")
    response = sso_sign_in(browser, provider)
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert_no_session(browser)


def test_a_refused_id_token_counts_against_the_address(sso_app, browser, provider):
    provider.claims = {"nonce": "another-nonce"}
    sso_sign_in(browser, provider)
    assert [(r["kind"], r["failures"]) for r in rows(sso_app, "SELECT kind, failures FROM login_throttle")] == [
        ("address", 1)]


def test_the_start_needs_the_login_csrf_token_and_a_well_formed_customer_id(sso_app, browser, provider):
    browser.get("/login")
    assert browser.post("/login/oidc", data={"tenant": "acme"}).status_code == 403
    response = start(browser, tenant="not a tenant!")
    assert response.status_code == 401 and FAILED in response.get_data(as_text=True)
    assert rows(sso_app, "SELECT * FROM oidc_logins") == [] and provider.hits == []


def test_client_secret_post_when_the_provider_only_accepts_that(sso_app, browser, provider):
    provider.auth_methods = ["client_secret_post"]
    assert sso_sign_in(browser, provider).status_code == 303
    exchange = provider.token_requests[-1]
    assert exchange["authorization"] is None
    assert (exchange["client_id"], exchange["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)


def test_the_redirect_uri_is_built_on_dashboard_public_url_when_set(dashboard_db, gateway, outcomes, passwords,
                                                                   clock, provider):
    app = create_app(settings(dashboard_db, oidc=oidc_settings(provider.issuer),
                              dashboard_url="https://dashboard.example.test"),
                     tenant_admin=gateway, event_outcomes=outcomes, passwords=passwords, clock=clock)
    try:
        app.extensions["dashboard"].users.create_user("acme", "ana@acme.example", PASSWORD, "admin", Actor.cli("t"))
        client = app.test_client()
        location = start(client).headers["Location"]
        assert parse_qs(urlsplit(location).query)["redirect_uri"] == [
            "https://dashboard.example.test/login/oidc/callback"]
        assert client.get("/login/oidc/callback?" + urlencode(provider.authorize(location))).status_code == 303
    finally:
        close_app(app)


def test_when_off_there_is_no_single_sign_on_form_and_its_urls_are_404(client, people):
    body = client.get("/login").get_data(as_text=True)
    assert "/login/oidc" not in body and "sso-tenant" not in body
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404
    token = csrf_token(body)
    assert client.post("/login/oidc", data={"csrf_token": token, "tenant": "acme"}).status_code == 404


def test_a_provider_that_is_down_is_the_503_page_and_passwords_still_work(dashboard_db, gateway, outcomes,
                                                                          passwords, clock):
    with socket.socket() as reserved:  # a port of ours that nobody listens on: connection refused
        reserved.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{reserved.getsockname()[1]}"
        app = create_app(settings(dashboard_db, oidc=oidc_settings(issuer)), tenant_admin=gateway,
                         event_outcomes=outcomes, passwords=passwords, clock=clock)
        try:
            app.extensions["dashboard"].users.create_user("acme", "ana@acme.example", PASSWORD, "admin",
                                                          Actor.cli("test"))
            client = app.test_client()
            assert client.get("/login").status_code == 200  # the page does not wait for the provider
            response = start(client)
            assert response.status_code == 503
            assert "Servicio no disponible" in response.get_data(as_text=True)
            assert rows(app, "SELECT * FROM oidc_logins") == []
            assert sign_in(client, "acme", "ana@acme.example").status_code == 303
            assert client.get(PAGE).status_code == 200
        finally:
            close_app(app)


def test_nothing_secret_reaches_the_log(sso_app, browser, provider, caplog):
    caplog.set_level("DEBUG")
    assert sso_sign_in(browser, provider).status_code == 303
    provider.claims = {"nonce": "another-nonce"}
    assert sso_sign_in(sso_app.test_client(), provider).status_code == 401
    text = caplog.text
    for secret in (CLIENT_SECRET, "at-opaque", "code-1", "code-2", "eyJ"):
        assert secret not in text
    assert "single sign-on refused" in text
