"""Store order events: the fields printbridge needs, read from a webhook body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.domain.address import Address, read_shipping_address
from bridge.domain.errors import PayloadError


@dataclass(frozen=True)
class OrderEvent:
    """One store order as a webhook described it."""

    order_id: str
    name: str | None
    order_number: str | None
    admin_graphql_api_id: str
    updated_at: datetime | None
    cancelled_at: datetime | None
    shipping_address: Address | None = None
    address_problem: str | None = None

    def reference(self, field: str) -> str | None:
        """The value Gelato holds as orderReferenceId, by the configured store field."""
        return {"id": self.order_id, "name": self.name, "order_number": self.order_number}[field]


def parse_order_event(payload: Any) -> OrderEvent:
    """Read an order webhook body; raise PayloadError with a reason when it is unusable."""
    if not isinstance(payload, Mapping):
        raise PayloadError("payload.not_object", "the body is not a JSON object")
    raw_id = payload.get("id")
    # bool is an int in Python; an order id never is one.
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or str(raw_id) == "":
        raise PayloadError("payload.missing_id", "the order has no id")
    order_id = str(raw_id)
    if not order_id.isdigit():
        raise PayloadError("payload.bad_id", "the order id is not a number")
    gid = payload.get("admin_graphql_api_id")
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/Order/"):
        gid = f"gid://shopify/Order/{order_id}"
    number = payload.get("order_number")
    try:
        address, problem = read_shipping_address(payload), None
    except PayloadError as error:
        address, problem = None, error.reason
    return OrderEvent(
        order_id=order_id,
        name=_text(payload.get("name")),
        order_number=None if number is None or isinstance(number, bool) else str(number),
        admin_graphql_api_id=gid,
        updated_at=parse_timestamp(payload.get("updated_at")),
        cancelled_at=parse_timestamp(payload.get("cancelled_at")),
        shipping_address=address,
        address_problem=problem,
    )


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO 8601 timestamp with its offset; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
