"""Shipping addresses: reading the store's, fingerprinting, and mapping them to Gelato's fields."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from bridge.domain.errors import PayloadError, PermanentError

# Store field → Gelato field (reference/gelato.md §3.1 shippingAddress, §4.3).
FIELD_MAP = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "companyName",
    "address1": "addressLine1",
    "address2": "addressLine2",
    "city": "city",
    "zip": "postCode",
    "province_code": "state",
    "country_code": "country",
    "phone": "phone",
}
# Gelato's documented limits (reference/gelato.md §4.3); longer values are rejected there.
MAX_LENGTH = {
    "firstName": 25,
    "lastName": 25,
    "companyName": 60,
    "addressLine1": 35,
    "addressLine2": 35,
    "city": 30,
}
REQUIRED = ("firstName", "lastName", "addressLine1", "city", "postCode", "country", "email")


@dataclass(frozen=True)
class Address:
    """A shipping address in Gelato's terms, normalized."""

    firstName: str = ""
    lastName: str = ""
    companyName: str = ""
    addressLine1: str = ""
    addressLine2: str = ""
    city: str = ""
    postCode: str = ""
    state: str = ""
    country: str = ""
    email: str = ""
    phone: str = ""

    def fingerprint(self) -> str:
        """A short stable digest: equal for the same address however it was typed.

        The email is left out: it belongs to the order, and changing it moves no parcel.
        """
        canonical = {key: _fold(value) for key, value in self._fields().items() if key != "email"}
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode())
        return digest.hexdigest()[:32]

    def as_gelato(self) -> dict[str, str]:
        """The address as Gelato's `shippingAddress` object, empty fields left out."""
        return {key: value for key, value in self._fields().items() if value}

    def _fields(self) -> dict[str, str]:
        # Not dataclasses.asdict: it deep-copies, and this runs on every webhook.
        return {name: getattr(self, name) for name in FIELDS}

    def problems(self) -> list[str]:
        """What Gelato would reject in this address, in words; empty when it is acceptable."""
        found = [f"{field} is missing" for field in REQUIRED if not getattr(self, field)]
        found += [
            f"{field} is longer than {limit} characters"
            for field, limit in MAX_LENGTH.items()
            if len(getattr(self, field)) > limit
        ]
        return found


FIELDS = tuple(field.name for field in fields(Address))


def read_shipping_address(payload: Mapping[str, Any]) -> Address:
    """The order's shipping address; PayloadError when it is missing or redacted.

    Without protected-customer-data access the store leaves the address out or blanks its
    fields: that is not a change of address, and nothing may be done on it.
    """
    raw = payload.get("shipping_address")
    if not isinstance(raw, Mapping):
        raise PayloadError("address.missing", "the order has no shipping address")
    values = {gelato: _clean(raw.get(store)) for store, gelato in FIELD_MAP.items()}
    if not (values["addressLine1"] or values["city"] or values["postCode"]):
        raise PayloadError("address.redacted", "the shipping address is redacted or empty")
    email = _clean(payload.get("email")) or _clean(payload.get("contact_email"))
    return Address(email=email, **values)


def from_gelato(raw: Mapping[str, Any] | None) -> Address:
    """A Gelato `shippingAddress` object read back as an Address."""
    raw = raw or {}
    return Address(**{field: _clean(raw.get(field)) for field in Address.__dataclass_fields__})


def check_for_gelato(address: Address) -> None:
    """Raise PermanentError (reason `address.invalid`) for an address Gelato would reject."""
    problems = address.problems()
    if problems:
        raise PermanentError("address.invalid", "The new address: " + "; ".join(problems) + ".")


def _clean(value: object) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _fold(value: str) -> str:
    return value.casefold()
