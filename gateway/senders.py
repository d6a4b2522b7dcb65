"""A tenant's senders: what the gateway checks each of its requests against.

Three kinds of sender sign a tenant's webhooks, each with secrets of its own: its own systems
(`autentikapp`: the `whsec_` secrets of the guide's scheme and of Standard Webhooks), and the store
platforms that cannot send our payload (Shopify, WooCommerce: the secret the platform signs with).
Loaded in one go by gateway.tenants.TenantStore.senders and cached per worker (gateway.tenant_cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.errors import InvalidArgument
from gateway.platforms import PlatformSettings
from gateway.secret_sealing import WEBHOOK_SENDER

WEBHOOK = WEBHOOK_SENDER
SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"
PLATFORMS = (SHOPIFY, WOOCOMMERCE)
SENDERS = (WEBHOOK, *PLATFORMS)
# A platform secret is whatever the platform issued (Shopify's app secret) or the brand typed (WooCommerce).
MIN_PLATFORM_SECRET = 16
MAX_PLATFORM_SECRET = 512
MAX_KEY_NAME = 100


@dataclass(frozen=True)
class TenantSenders:
    """One tenant's active secrets by sender, whether it requires timestamped signatures, and where its
    platforms keep codes and national ids. Empty for an unknown tenant (the caller cannot tell)."""

    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    require_timestamped: bool = False
    platforms: dict[str, PlatformSettings] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no sender has an active secret: an unknown tenant (or one whose every secret was
        revoked), cached apart (gateway/tenant_cache.py)."""
        return not any(self.secrets.values())

    def secrets_of(self, sender: str) -> tuple[str, ...]:
        """The active secrets of one sender (WEBHOOK or a platform)."""
        return self.secrets.get(sender, ())

    def platform(self, platform: str) -> PlatformSettings:
        """Where the tenant's store on `platform` keeps codes and national ids (the defaults when unset)."""
        return self.platforms.get(platform) or PlatformSettings()


def check_sender(sender: str) -> str:
    """`sender` when it is one of SENDERS; InvalidArgument naming them otherwise."""
    if sender not in SENDERS:
        raise InvalidArgument(f"platform must be one of {', '.join(SENDERS)}", "platform")
    return sender


def check_platform_secret(value: str) -> str:
    """A platform's secret as given, trimmed: MIN_PLATFORM_SECRET to MAX_PLATFORM_SECRET visible characters
    (a shorter one is guessable; a space or control character is a copy-and-paste accident). The message
    never repeats the value."""
    value = value.strip()
    if not MIN_PLATFORM_SECRET <= len(value) <= MAX_PLATFORM_SECRET:
        raise InvalidArgument(f"the secret must be {MIN_PLATFORM_SECRET} to {MAX_PLATFORM_SECRET} characters long "
                              f"(it has {len(value)})", "secret")
    if any(not ch.isprintable() or ch.isspace() for ch in value):
        raise InvalidArgument("the secret must not contain spaces or control characters", "secret")
    return value


def check_key_name(name: str, field_name: str) -> str:
    """A property, attribute or meta key name: trimmed, 1 to MAX_KEY_NAME characters without control ones."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_KEY_NAME or any(not ch.isprintable() for ch in name):
        raise InvalidArgument(f"{field_name} must be 1 to {MAX_KEY_NAME} printable characters", field_name)
    return name
