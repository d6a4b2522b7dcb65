"""A tenant's rules about its buyers' identity: the default country of its phone numbers, and its own
values that identify nobody (a store's phone, a cashier's habitual filler). Set with
`autentikapp tenants country` and `autentikapp tenants identity`, stored in the gateway's database
(gateway.tenants), cached per worker like the secrets, and carried on every accepted event
(WebhookEvent.buyer_rules) so that customer_service applies them with its built-in rules
(common/buyer_identity.py)."""

from __future__ import annotations

from dataclasses import dataclass

from autentikapp.v1 import customer_pb2
from common import normalize
from common.errors import InvalidArgument

FIELDS = ("national_id", "email", "phone_number")
# A list is for a few fillers, not a block list: every value travels on every event of the tenant.
MAX_VALUES_PER_FIELD = 100


@dataclass(frozen=True)
class BuyerRules:
    """One tenant's rules ("" / empty: none)."""

    default_country: str = ""
    national_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phone_numbers: tuple[str, ...] = ()

    def message(self) -> customer_pb2.BuyerIdentityRules:
        """As carried on each event."""
        return customer_pb2.BuyerIdentityRules(
            default_country=self.default_country, ignored_national_ids=self.national_ids,
            ignored_emails=self.emails, ignored_phone_numbers=self.phone_numbers)

    def values(self, field: str) -> tuple[str, ...]:
        """The tenant's values of one field."""
        return {"national_id": self.national_ids, "email": self.emails, "phone_number": self.phone_numbers}[field]


def normalised_value(field: str, value: str, default_country: str = "") -> str:
    """A value for the tenant's list, normalised as a buyer's value of that field is (so that it compares
    equal); InvalidArgument when the field is unknown, the value empty or malformed."""
    normalizers = {"national_id": normalize.national_id, "email": normalize.email,
                   "phone_number": lambda v, f: normalize.phone(v, f, default_country or None)}
    if field not in normalizers:
        raise InvalidArgument(f"field must be one of {', '.join(FIELDS)}", "field")
    normalised = normalizers[field](value, field)
    if not normalised:
        raise InvalidArgument(f"{field} must not be empty", field)
    return normalised
