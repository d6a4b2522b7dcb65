"""Single sign-on through the company's OpenID Connect provider: the authorization code flow with PKCE,
for users that already exist (docs/dashboard.md "Single sign-on (OpenID Connect)").

The sign-in form's second form (a customer ID) makes a pending login (`oidc_logins`: the SHA-256 of a
random `state`, a `nonce`, a PKCE verifier, the tenant) and sends the browser to the provider, with
`state` also in a short-lived cookie so that only the browser that started a sign-in can finish it. The
callback consumes the pending login (once, within ten minutes), exchanges the code at the token endpoint
with the verifier and the client secret, and validates the ID token (joserfc: signature against the
provider's keys; Authlib's CodeIDToken: issuer, audience, nonce, expiry). It then names a verified e-mail,
which dashboard.users signs in as an active user of the tenant, or refuses.

HTTP is urllib's (discovery, keys, token endpoint), with a timeout; the discovery document and the keys
are cached per worker. A provider that cannot be reached is common.errors.Unavailable (the 503 page);
password sign-in does not depend on it. Nothing here logs a token, a code or the client secret.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote_plus, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import JWKRegistry, KeySet
from joserfc.jws import JWSRegistry
from psycopg_pool import ConnectionPool

from common import normalize
from common.errors import InvalidArgument, Unavailable
from dashboard import db
from dashboard.settings import LOOPBACK_HOSTS, OidcSettings
from dashboard.users import Clock

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
PENDING_LIFETIME = timedelta(minutes=10)
LEEWAY_SECONDS = 60  # clock skew allowed on the ID token's exp and iat
METADATA_TTL_SECONDS = 3600.0  # the discovery document and keys are fetched again after this long
MAX_RESPONSE_BYTES = 1 << 20
# Asymmetric signatures only: the keys come from the provider's JWKS, never the client secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
COOKIE = "autentikapp_oidc"  # the state of the sign-in this browser started
BASIC, POST = "client_secret_basic", "client_secret_post"


def cookie_name(secure: bool) -> str:
    return ("__Host-" if secure else "") + COOKIE


class SignInRefused(Exception):
    """The provider's answer signs nobody in. The message is for the log: never a token, a code or a secret."""


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in on its way through the provider."""

    tenant_id: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    created_at: datetime


@dataclass(frozen=True)
class Metadata:
    """What the dashboard uses of the provider's discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_method: str  # BASIC or POST
    algorithms: tuple[str, ...]


def state_digest(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


class PendingLogins:
    """The `oidc_logins` table: made by the sign-in form, consumed (deleted) by the callback."""

    def __init__(self, pool: ConnectionPool, clock: Clock):
        self._pool = pool
        self._now = clock

    def create(self, tenant_id: str, redirect_uri: str) -> tuple[str, PendingLogin]:
        """A new pending login; returns its `state` (only its digest is stored). Expired ones are swept."""
        state = secrets.token_urlsafe(32)
        now = self._now()
        pending = PendingLogin(tenant_id, secrets.token_urlsafe(32), secrets.token_urlsafe(48), redirect_uri, now)
        with db.connection(self._pool) as conn, conn.transaction():
            conn.execute("DELETE FROM oidc_logins WHERE created_at <= %s", (now - PENDING_LIFETIME,))
            conn.execute(
                """INSERT INTO oidc_logins (state_hash, tenant_id, nonce, code_verifier, redirect_uri, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (state_digest(state), tenant_id, pending.nonce, pending.code_verifier, redirect_uri, now))
        return state, pending

    def consume(self, state: str) -> PendingLogin | None:
        """The pending login of `state`, deleted so that it serves once; None when unknown, used or expired."""
        if not state or len(state) > 200:
            return None
        with db.connection(self._pool) as conn:
            row = conn.execute(
                """DELETE FROM oidc_logins WHERE state_hash = %s
                   RETURNING tenant_id, nonce, code_verifier, redirect_uri, created_at""",
                (state_digest(state),)).fetchone()
        if row is None or row["created_at"] <= self._now() - PENDING_LIFETIME:
            return None
        return PendingLogin(**row)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The token endpoint is called with the client's credentials: a redirect is an error, never followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _allowed_url(url: str) -> bool:
    """https, or http on a loopback host (the same rule as the issuer's)."""
    parts = urlsplit(url)
    return bool(parts.hostname) and (parts.scheme == "https" or (parts.scheme == "http"
                                                                  and parts.hostname in LOOPBACK_HOSTS))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Provider:
    """The provider as this worker knows it: its discovery document and keys (cached), its token endpoint,
    and the checks on its ID tokens."""

    def __init__(self, settings: OidcSettings, clock: Clock):
        self.settings = settings
        self._now = clock
        self._lock = threading.Lock()
        self._metadata: Metadata | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    # -- HTTP ---------------------------------------------------------------------------------------------

    def _call(self, url: str, *, form: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, object]:
        """(status, parsed JSON or None) of a GET, or of a form POST when `form` is given. A network failure
        or an answer that is not JSON is Unavailable; the message names the URL only."""
        handlers: list = []
        if urlsplit(url).hostname in LOOPBACK_HOSTS:
            handlers.append(urllib.request.ProxyHandler({}))  # never through a proxy to this machine
        if form is not None:
            handlers.append(_NoRedirect())
        opener = urllib.request.build_opener(*handlers)
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET",
                                         headers={"Accept": "application/json", **(headers or {})})
        try:
            try:
                with opener.open(request, timeout=self.settings.timeout_seconds) as response:
                    status, body = response.status, response.read(MAX_RESPONSE_BYTES + 1)
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read(MAX_RESPONSE_BYTES + 1)
                exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            raise Unavailable(f"the OpenID provider at {url} cannot be reached ({_reason(exc)})") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise Unavailable(f"the OpenID provider's answer from {url} is too large")
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            if status >= 500:
                raise Unavailable(f"the OpenID provider answered {url} with HTTP {status}") from None
            raise Unavailable(f"the OpenID provider's answer from {url} is not JSON (HTTP {status})") from None

    def _get_json(self, url: str) -> dict:
        status, body = self._call(url)
        if status != 200 or not isinstance(body, dict):
            raise Unavailable(f"the OpenID provider answered {url} with HTTP {status}")
        return body

    # -- discovery and keys -------------------------------------------------------------------------------

    def metadata(self) -> Metadata:
        """The discovery document's endpoints, fetched on first use and cached (Unavailable when the
        provider cannot be reached or its document does not fit)."""
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_TTL_SECONDS:
                self._metadata = self._discover()
                self._keys = None
                self._fetched_at = time.monotonic()
            return self._metadata

    def cached_metadata(self) -> Metadata | None:
        """The discovery document if this worker has it already (never fetches)."""
        return self._metadata

    def _discover(self) -> Metadata:
        issuer = self.settings.issuer
        url = issuer.rstrip("/") + DISCOVERY_PATH
        doc = self._get_json(url)
        if doc.get("issuer") != issuer:
            raise Unavailable(f"the discovery document at {url} names another issuer than DASHBOARD_OIDC_ISSUER")
        endpoints = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(name)
            if not isinstance(value, str) or not _allowed_url(value):
                raise Unavailable(f"the discovery document at {url} has no usable {name}")
            endpoints[name] = value
        methods = doc.get("token_endpoint_auth_methods_supported") or [BASIC]  # the spec's default
        method = BASIC if BASIC in methods else POST if POST in methods else None
        if method is None:
            raise Unavailable(f"the provider at {url} supports neither {BASIC} nor {POST}")
        algorithms = tuple(a for a in doc.get("id_token_signing_alg_values_supported") or ["RS256"]
                           if a in SIGNING_ALGORITHMS)
        if not algorithms:
            raise Unavailable(f"the provider at {url} signs ID tokens with no algorithm of {SIGNING_ALGORITHMS}")
        challenges = doc.get("code_challenge_methods_supported")
        if challenges and "S256" not in challenges:
            raise Unavailable(f"the provider at {url} does not support PKCE with S256")
        return Metadata(token_auth_method=method, algorithms=algorithms, **endpoints)

    def _key_set(self, metadata: Metadata, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (cached with the discovery document; `refresh` after a rotation)."""
        with self._lock:
            if self._keys is None or refresh:
                jwks = self._get_json(metadata.jwks_uri)
                keys = []
                for data in jwks.get("keys") if isinstance(jwks.get("keys"), list) else []:
                    if not isinstance(data, dict) or data.get("kty") not in ("RSA", "EC", "OKP") \
                            or data.get("use", "sig") != "sig":
                        continue
                    try:
                        keys.append(JWKRegistry.import_key(data))
                    except (JoseError, ValueError, TypeError):
                        continue  # a key of a kind we do not use
                if not keys:
                    raise Unavailable(f"the provider's JWKS at {metadata.jwks_uri} has no signing key")
                self._keys = KeySet(keys)
            return self._keys

    # -- the flow -----------------------------------------------------------------------------------------

    def authorization_url(self, state: str, pending: PendingLogin) -> str:
        """Where to send the browser: the authorization endpoint with the code flow's parameters."""
        endpoint = self.metadata().authorization_endpoint
        query = urlencode({
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": pending.redirect_uri,
            "scope": self.settings.scopes,
            "state": state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.code_verifier),
            "code_challenge_method": "S256",
        })
        return f"{endpoint}{'&' if urlsplit(endpoint).query else '?'}{query}"

    def verified_email(self, code: str, pending: PendingLogin) -> str:
        """Exchange `code` and return the ID token's verified e-mail (normalised). SignInRefused when the
        provider refuses the code or the ID token fails a check; Unavailable when it cannot be reached."""
        metadata = self.metadata()
        tokens = self._exchange(metadata, code, pending)
        claims = self._validate(metadata, tokens, pending)
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise SignInRefused("the ID token has no e-mail (is the 'email' scope granted?)")
        if claims.get("email_verified") is not True:
            raise SignInRefused("the provider has not verified the ID token's e-mail")
        try:
            return normalize.email(email)
        except InvalidArgument:
            raise SignInRefused("the ID token's e-mail is not a valid address") from None

    def _exchange(self, metadata: Metadata, code: str, pending: PendingLogin) -> dict:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.code_verifier}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        client_id, secret = self.settings.client_id, self.settings.client_secret
        if metadata.token_auth_method == BASIC:  # RFC 6749 2.3.1: each part form-encoded, then Base64
            credentials = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        else:
            form.update(client_id=client_id, client_secret=secret)
        status, body = self._call(metadata.token_endpoint, form=form, headers=headers)
        if status >= 500:
            raise Unavailable(f"the OpenID provider's token endpoint answered HTTP {status}")
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            shown = error if isinstance(error, str) and error.replace("_", "").isalpha() and len(error) < 40 else "?"
            raise SignInRefused(f"the token endpoint refused the code (HTTP {status}, error={shown})")
        if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            raise SignInRefused("the token endpoint's answer has no ID token")
        return body

    def _validate(self, metadata: Metadata, tokens: dict, pending: PendingLogin) -> CodeIDToken:
        """The ID token's claims once its signature, issuer, audience, nonce and times are checked."""
        registry = JWSRegistry(algorithms=list(metadata.algorithms), strict_check_header=False)
        try:
            try:
                token = jwt.decode(tokens["id_token"], self._key_set(metadata), registry=registry)
            except InvalidKeyIdError:  # the provider may have rotated its keys since we fetched them
                token = jwt.decode(tokens["id_token"], self._key_set(metadata, refresh=True), registry=registry)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInRefused(f"the ID token's signature does not verify ({_reason(exc)})") from None
        options = {
            "iss": {"essential": True, "value": self.settings.issuer},
            "aud": {"essential": True, "value": self.settings.client_id},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": pending.nonce},
        }
        params = {"nonce": pending.nonce, "client_id": self.settings.client_id}
        if isinstance(tokens.get("access_token"), str):
            params["access_token"] = tokens["access_token"]  # checked against at_hash when there is one
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(self._now().timestamp()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInRefused(f"the ID token is refused ({_reason(exc)})") from None
        return claims


def _reason(exc: BaseException) -> str:
    """A short reason for the log: a joserfc error's own text (claim names, never values), else the type."""
    if isinstance(exc, JoseError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return type(exc).__name__


@dataclass
class SingleSignOn:
    """Everything the views need of single sign-on."""

    settings: OidcSettings
    provider: Provider
    logins: PendingLogins
    dashboard_url: str = ""  # DASHBOARD_PUBLIC_URL, or "" for the request's own scheme and host

    @classmethod
    def build(cls, settings: OidcSettings, pool: ConnectionPool, clock: Clock,
              dashboard_url: str = "") -> "SingleSignOn":
        return cls(settings, Provider(settings, clock), PendingLogins(pool, clock), dashboard_url)

    def form_action_origins(self) -> list[str]:
        """Origins the sign-in page's forms may lead to (its CSP's form-action): the POST answers with a
        redirect to the authorization endpoint, which browsers check against the form's page."""
        metadata = self.provider.cached_metadata()
        origins = {origin(self.settings.issuer)}
        if metadata is not None:
            origins.add(origin(metadata.authorization_endpoint))
        return sorted(origins)
