"""Personal data in stored documents: found by field name, erased by field and by value.

Used when a customer asks to be forgotten (`customers/redact`): the store's order payloads,
Gelato's order documents and the bodies of API calls keep their ids, statuses and times, while
names, addresses, emails and phones go. Values found under personal fields are also erased
wherever else they occur as text (an address quoted in a message, a name in a note).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
# Shorter values ("US", "KY") are not personal on their own and would erase unrelated text.
MIN_VALUE_LENGTH = 3
MIN_PHONE_DIGITS = 7

# Field names are compared lower-cased without `_` and `-`: `first_name` and `firstName` alike.
PERSONAL_FIELDS = frozenset(
    {
        "firstname",
        "lastname",
        "fullname",
        "email",
        "contactemail",
        "customeremail",
        "phone",
        "phonenumber",
        "company",
        "companyname",
        "address1",
        "address2",
        "addressline1",
        "addressline2",
        "city",
        "zip",
        "postcode",
        "postalcode",
        "note",
        "noteattributes",
        "browserip",
    }
)
# Everything under these is about a person, whatever the field is called, except ids.
PERSONAL_CONTAINERS = frozenset(
    {
        "customer",
        "shippingaddress",
        "billingaddress",
        "billingentity",
        "returnaddress",
        "defaultaddress",
        "addresses",
        "address",
        "clientdetails",
        "destination",
    }
)


def _plain(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_ID = re.compile(r"(^|_)ids?$|[a-z0-9]Ids?$")


def _is_id(name: str) -> bool:
    """An identifier (`id`, `order_id`, `orderId`): kept, so the record still ties together."""
    return _ID.search(name) is not None


def personal_values(document: Any) -> set[str]:
    """The text values stored under personal fields of a JSON document (with digit-only phones)."""
    found: set[str] = set()
    _collect(document, False, found)
    return found


def _collect(value: Any, personal: bool, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            plain = _plain(str(key))
            inside = personal or plain in PERSONAL_CONTAINERS
            if inside and _is_id(str(key)):
                continue
            _collect(item, inside or plain in PERSONAL_FIELDS, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, personal, found)
    elif personal and isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        if len(text) >= MIN_VALUE_LENGTH:
            found.add(text)
        digits = re.sub(r"\D", "", text)
        if len(digits) >= MIN_PHONE_DIGITS and digits != text:
            found.add(digits)


def scrub_document(document: Any, values: Iterable[str]) -> Any:
    """The document with personal fields erased and every known personal value erased in text."""
    pattern = _pattern(values)
    return _scrub(document, False, pattern)


def scrub_text(text: str, values: Iterable[str]) -> str:
    """The text with every known personal value erased (case-insensitively)."""
    pattern = _pattern(values)
    return text if pattern is None else pattern.sub(REDACTED, text)


def _scrub(value: Any, personal: bool, pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, dict):
        scrubbed = {}
        for key, item in value.items():
            plain = _plain(str(key))
            inside = personal or plain in PERSONAL_CONTAINERS
            if inside and _is_id(str(key)):
                scrubbed[key] = item
            else:
                scrubbed[key] = _scrub(item, inside or plain in PERSONAL_FIELDS, pattern)
        return scrubbed
    if isinstance(value, list):
        return [_scrub(item, personal, pattern) for item in value]
    if personal and value is not None and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(REDACTED, value)
    return value


def _pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so that a street is erased whole before a shorter value inside it.
    ordered = sorted({value for value in values if len(value) >= MIN_VALUE_LENGTH}, key=len)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(value) for value in reversed(ordered)), re.IGNORECASE)
