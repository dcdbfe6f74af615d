"""Topics about a whole shop (`app/uninstalled`, the privacy topics): recorded, then handled.

Each delivery is recorded in `deliveries` (no order id) exactly as order deliveries are: by
(shop, webhook id), so a repeat changes nothing, and in the same transaction-or-503 way. What
is recorded of the body is only what printbridge needs (ids): these bodies carry the very
personal data a privacy request asks to erase, and the merchant's own contact details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bridge.adapters.recording import Recorded
from bridge.domain.errors import PayloadError
from bridge.intake import Incoming, delivery_of, unavailable_on_outage
from bridge.services import Services

log = logging.getLogger(__name__)

ShopHandler = Callable[[Services, Incoming], Recorded]


def receive_shop_topic(services: Services, incoming: Incoming, handle: ShopHandler) -> Recorded:
    """Run a shop topic's handler; Unavailable (503) when the database or Redis is down."""
    with unavailable_on_outage(incoming.webhook_id):
        return handle(services, incoming)


def read_body(services: Services, incoming: Incoming, domain_field: str) -> dict[str, Any]:
    """The body as a JSON object naming the same shop as the header (the header is unsigned).

    A body that is not one is recorded as `rejected` and raises PayloadError (400).
    """
    try:
        body = json.loads(incoming.body)
    except (ValueError, RecursionError):
        body = None
    reason = None
    if not isinstance(body, dict):
        reason = "payload.not_object"
    elif str(body.get(domain_field) or incoming.shop).lower() != incoming.shop:
        reason = "payload.shop_mismatch"
    if reason is not None:
        record(services, incoming, "rejected", reason, kept={})
        raise PayloadError(reason, "the body is not a JSON object about this shop")
    assert isinstance(body, dict)
    return body


def record(
    services: Services,
    incoming: Incoming,
    result: str,
    reason: str | None,
    kept: dict[str, Any],
) -> Recorded:
    """Record the delivery with `kept` (ids only) as its payload."""
    return services.storage.record_delivery(
        delivery_of(incoming, None, result, reason, payload=json.dumps(kept)),
        None,
    )


def ids(value: Any) -> list[str]:
    """A list of store ids (numbers or digit strings) as strings; anything else is refused."""
    if not isinstance(value, list) or not all(_is_id(item) for item in value):
        raise PayloadError("payload.bad_order_ids", "the order ids are not a list of ids")
    return [str(item) for item in _unique(value)]


def _is_id(item: Any) -> bool:
    if isinstance(item, bool):
        return False
    return (isinstance(item, int) and item > 0) or (isinstance(item, str) and item.isdigit())


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
