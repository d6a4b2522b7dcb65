"""The dashboard's settings, from the environment (validated at start; a bad value names its variable).

Sessions are server-side: the cookie holds a random token and the database only its SHA-256, so there
is no signing key to configure, rotate or leak (no DASHBOARD_SECRET_KEYS).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from common.config import (
    DASHBOARD_DEFAULT_PORT,
    GATEWAY_ADMIN_DEFAULT_PORT,
    PROCESSOR_GRPC_DEFAULT_PORT,
    ConfigError,
    ProcessSettings,
    env_bool,
    env_float,
    env_int,
    env_secret,
    env_str,
    grpc_address,
    http_url,
)

DEFAULT_PUBLIC_BASE_URL = "http://localhost:8080"  # the gateway's default, as senders reach it
DEFAULT_OIDC_SCOPES = "openid email"
DEFAULT_OIDC_BUTTON_LABEL = "SSO"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # where plain http is allowed (tests, make run)
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 scope-token
OIDC_VARIABLES = ("DASHBOARD_OIDC_ISSUER", "DASHBOARD_OIDC_CLIENT_ID", "DASHBOARD_OIDC_CLIENT_SECRET",
                  "DASHBOARD_OIDC_CLIENT_SECRET_FILE", "DASHBOARD_OIDC_SCOPES", "DASHBOARD_OIDC_BUTTON_LABEL")


@dataclass(frozen=True)
class LoginLimits:
    """How sign-in failures are throttled (dashboard/throttle.py).

    An account (tenant + e-mail, whether it exists or not) is locked for `lockout_seconds` after
    `account_failures` failures in a row; a client address is blocked for `ip_window_seconds` after
    `ip_failures` failures within that window, whichever accounts they were for."""

    account_failures: int = 5
    lockout_seconds: float = 15 * 60
    ip_failures: int = 50
    ip_window_seconds: float = 15 * 60


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in through the company's OpenID Connect provider (dashboard/oidc.py); None when
    DASHBOARD_OIDC_ISSUER is unset. The client secret never appears in a repr, a log or an error."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = DEFAULT_OIDC_SCOPES
    button_label: str = DEFAULT_OIDC_BUTTON_LABEL
    timeout_seconds: float = 5.0  # each call to the provider (discovery, keys, token endpoint)

    @classmethod
    def from_env(cls) -> "OidcSettings | None":
        """The DASHBOARD_OIDC_* variables, or None when the feature is off (no issuer)."""
        issuer = os.environ.get("DASHBOARD_OIDC_ISSUER", "").strip()
        if not issuer:
            stray = [name for name in OIDC_VARIABLES[1:] if os.environ.get(name, "").strip()]
            if stray:
                raise ConfigError(f"DASHBOARD_OIDC_ISSUER: required when {stray[0]} is set "
                                  "(single sign-on is off without it)")
            return None
        client_id = os.environ.get("DASHBOARD_OIDC_CLIENT_ID", "").strip()
        if not client_id:
            raise ConfigError("DASHBOARD_OIDC_CLIENT_ID: required when DASHBOARD_OIDC_ISSUER is set")
        scopes = " ".join(env_str("DASHBOARD_OIDC_SCOPES", DEFAULT_OIDC_SCOPES).split())
        if "openid" not in scopes.split() or not all(_SCOPE.match(s) for s in scopes.split()):
            raise ConfigError("DASHBOARD_OIDC_SCOPES: space-separated scopes that include 'openid'")
        label = " ".join(env_str("DASHBOARD_OIDC_BUTTON_LABEL", DEFAULT_OIDC_BUTTON_LABEL).split())
        if len(label) > 40:
            raise ConfigError("DASHBOARD_OIDC_BUTTON_LABEL: at most 40 characters")
        return cls(issuer=check_issuer("DASHBOARD_OIDC_ISSUER", issuer), client_id=client_id,
                   client_secret=_client_secret(), scopes=scopes, button_label=label)


def check_issuer(name: str, value: str) -> str:
    """An issuer URL as OpenID Connect Discovery wants it: https, a host, no query or fragment; plain
    http only on a loopback host (tests, a provider on your own machine). Kept as given: it is compared
    exactly with the `iss` of the discovery document and of every ID token."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(f"{name}: not a valid URL ({exc})") from None
    if not parts.hostname:
        raise ConfigError(f"{name}: the URL has no host")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        raise ConfigError(f"{name}: must be an https:// URL (http:// only on 127.0.0.1 or localhost)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{name}: no query, fragment or credentials in the issuer URL")
    return value


def _client_secret() -> str:
    """DASHBOARD_OIDC_CLIENT_SECRET, or the file DASHBOARD_OIDC_CLIENT_SECRET_FILE names (a mounted Secret):
    exactly one of them. The messages never carry the secret."""
    secret = env_secret("DASHBOARD_OIDC_CLIENT_SECRET")
    if not secret:
        raise ConfigError("DASHBOARD_OIDC_CLIENT_SECRET: required when DASHBOARD_OIDC_ISSUER is set "
                          "(or DASHBOARD_OIDC_CLIENT_SECRET_FILE)")
    return secret


def dashboard_url(name: str) -> str:
    """DASHBOARD_PUBLIC_URL: the dashboard's own address as browsers reach it (optional; without it the
    request's scheme and host are used), without a trailing slash."""
    if not os.environ.get(name, "").strip():
        return ""
    value = http_url(name, "")
    if urlsplit(value).query or urlsplit(value).fragment:
        raise ConfigError(f"{name}: no query or fragment")
    return value


@dataclass(frozen=True)
class DashboardSettings(ProcessSettings):
    """Everything the dashboard process needs besides the shared settings; read once per process."""

    port: int
    workers: int
    threads: int
    pool_min: int
    pool_max: int
    secure_cookies: bool
    session_lifetime_seconds: float
    session_idle_seconds: float
    login: LoginLimits
    public_base_url: str
    trusted_proxies: int  # reverse proxies in front that set X-Forwarded-For/-Proto (0: none)
    # The internal APIs it calls (mutual TLS with its `dashboard` certificate, GRPC_TLS_*).
    gateway_admin_addr: str = f"localhost:{GATEWAY_ADMIN_DEFAULT_PORT}"
    processor_addr: str = f"localhost:{PROCESSOR_GRPC_DEFAULT_PORT}"
    tls: Any = None  # common.grpc_tls.TlsFiles, or None (required to serve: grpc_tls.required)
    oidc: OidcSettings | None = None  # single sign-on, off unless DASHBOARD_OIDC_ISSUER is set
    dashboard_url: str = ""  # DASHBOARD_PUBLIC_URL: the base of the OIDC redirect URI ("" = the request's)

    @classmethod
    def from_env(cls) -> "DashboardSettings":
        """Read and check every dashboard variable; raise ConfigError naming the first bad one."""
        from common import grpc_tls  # it reads its variables with common.config's helpers

        pool_min = env_int("DASHBOARD_POOL_MIN", 1, minimum=1)
        return cls(
            **ProcessSettings.common_from_env("dashboard", "DASHBOARD_DATABASE_URL"),
            port=env_int("DASHBOARD_PORT", DASHBOARD_DEFAULT_PORT, minimum=0, maximum=65535),
            workers=env_int("DASHBOARD_WORKERS", 2, minimum=1, maximum=64),
            threads=env_int("DASHBOARD_THREADS", 4, minimum=1, maximum=256),
            pool_min=pool_min,
            pool_max=env_int("DASHBOARD_POOL_MAX", 4, minimum=pool_min),
            secure_cookies=env_bool("DASHBOARD_SECURE_COOKIES", True),
            session_lifetime_seconds=env_float("DASHBOARD_SESSION_LIFETIME_SECONDS", 12 * 3600.0, minimum=60.0),
            session_idle_seconds=env_float("DASHBOARD_SESSION_IDLE_SECONDS", 3600.0, minimum=60.0),
            login=LoginLimits(
                account_failures=env_int("DASHBOARD_LOGIN_MAX_FAILURES", 5, minimum=1, maximum=1000),
                lockout_seconds=env_float("DASHBOARD_LOGIN_LOCKOUT_SECONDS", 15 * 60.0, minimum=1.0),
                ip_failures=env_int("DASHBOARD_LOGIN_IP_MAX_FAILURES", 50, minimum=1, maximum=1_000_000),
                ip_window_seconds=env_float("DASHBOARD_LOGIN_IP_WINDOW_SECONDS", 15 * 60.0, minimum=1.0),
            ),
            public_base_url=http_url("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL),
            trusted_proxies=env_int("DASHBOARD_TRUSTED_PROXIES", 0, minimum=0, maximum=10),
            gateway_admin_addr=grpc_address("GATEWAY_ADMIN_ADDR", GATEWAY_ADMIN_DEFAULT_PORT),
            processor_addr=grpc_address("PROCESSOR_ADDR", PROCESSOR_GRPC_DEFAULT_PORT),
            tls=grpc_tls.TlsFiles.named(),
            oidc=OidcSettings.from_env(),
            dashboard_url=dashboard_url("DASHBOARD_PUBLIC_URL"),
        )
