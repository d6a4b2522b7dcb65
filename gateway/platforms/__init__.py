"""Stores that cannot send the guide's payload or headers (Shopify, WooCommerce): their webhook bodies are
translated onto the guide's document, so every payload rule, the content digest and the event id are the
same whatever sent the sale. Translation is pure (no I/O, no clock) and judges no value: values go through
as found, gateway.payload.parse_event checks them, and Translated.platform_path names a failing field by
its path in the platform's body. Only what makes translation impossible is refused here (PayloadInvalid,
with platform paths)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformSettings:
    """Where a tenant's store keeps what the guide's payload names (set per tenant and platform)."""

    code_key: str = "autentikapp_code"  # Shopify: line-item property name; WooCommerce: line-item meta_data key
    national_id_key: str = "national_id"  # Shopify: order note_attributes name; WooCommerce: order meta_data key


@dataclass(frozen=True)
class Translated:
    """A guide-shaped document (the dict gateway.payload.parse_event takes) and where its fields came from."""

    document: dict
    paths: dict[str, str]  # guide field path (as gateway.payload names it) -> path in the platform's body

    def platform_path(self, guide_field: str) -> str:
        """The platform path of a guide field: exact match, else the longest mapped prefix (at a '.' or '['
        boundary) followed by the rest of the path, else guide_field unchanged."""
        if guide_field in self.paths:
            return self.paths[guide_field]
        best = ""
        for prefix in self.paths:
            if (len(prefix) > len(best) and guide_field.startswith(prefix)
                    and guide_field[len(prefix):len(prefix) + 1] in (".", "[")):
                best = prefix
        return self.paths[best] + guide_field[len(best):] if best else guide_field


@dataclass(frozen=True)
class Ignored:
    """Nothing to publish: the gateway answers 200 with this reason (platforms disable a webhook that keeps failing)."""

    reason: str
