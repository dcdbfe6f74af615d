"""Filters of the Gelato sandbox orders:search endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.sandbox.gelato_input import (
    read_integer,
    read_optional_text,
    read_strings,
)
from bridge.sandbox.replies import JsonObject, SandboxError

MAX_LIMIT = 100


@dataclass(frozen=True)
class SearchFilter:
    """The filters and page of an orders:search call."""

    order_reference_ids: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    order_types: frozenset[str] | None = None
    fulfillment_statuses: frozenset[str] | None = None
    financial_statuses: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    currencies: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0

    def matches(self, order: JsonObject) -> bool:
        """Tell whether a full order passes every filter."""
        address = order["shippingAddress"]
        checks = (
            (self.order_reference_ids, order["orderReferenceId"]),
            (self.ids, order["id"]),
            (self.order_types, order["orderType"]),
            (self.fulfillment_statuses, order["fulfillmentStatus"]),
            (self.financial_statuses, order["financialStatus"]),
            (self.countries, address.get("country")),
            (self.currencies, order["currency"]),
            (self.channels, order["channel"]),
        )
        if any(allowed is not None and value not in allowed for allowed, value in checks):
            return False
        if self.text is None:
            return True
        haystack = (address.get("firstName"), address.get("lastName"), order["orderReferenceId"])
        return any(self.text.lower() in str(value or "").lower() for value in haystack)


def parse_search(body: JsonObject) -> SearchFilter:
    """Read the filters of an orders:search body."""
    references = read_strings(body, "orderReferenceIds")
    single = read_optional_text(body.get("orderReferenceId"), "orderReferenceId")
    if single is not None:
        references = (references or frozenset()) | {single}
    limit = read_integer(body.get("limit"), "limit", 50, 1)
    if limit > MAX_LIMIT:
        raise SandboxError(400, f"limit must be at most {MAX_LIMIT}.")
    return SearchFilter(
        order_reference_ids=references,
        ids=read_strings(body, "ids"),
        order_types=read_strings(body, "orderTypes"),
        fulfillment_statuses=read_strings(body, "fulfillmentStatuses"),
        financial_statuses=read_strings(body, "financialStatuses"),
        countries=read_strings(body, "countries"),
        currencies=read_strings(body, "currencies"),
        channels=read_strings(body, "channels"),
        text=read_optional_text(body.get("search"), "search"),
        limit=limit,
        offset=read_integer(body.get("offset"), "offset", 0, 0),
    )
