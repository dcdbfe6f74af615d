"""The privacy topics: `customers/data_request`, `customers/redact`, `shop/redact`.

A data request is recorded and its export is built when the merchant opens it (it is what the
sync log holds about those orders at that moment, so it is never a stale copy of personal
data). Erasing a customer's orders and erasing a shop run as jobs: they rewrite or delete an
unbounded number of rows, which has no place on the webhook path that must answer in
milliseconds. Each delivery is recorded (ids only) and ends `done` once its job has run;
`shop/redact` deletes its own record with the rest of the shop, so only the log line remains.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge.adapters.queue import CUSTOMER_REDACT, SHOP_REDACT
from bridge.adapters.recording import Recorded
from bridge.domain.errors import PayloadError
from bridge.intake import Incoming
from bridge.services import Services
from bridge.shop_topics import ids, read_body, record

log = logging.getLogger(__name__)

DATA_REQUEST = "customers/data_request"


def receive_data_request(services: Services, incoming: Incoming) -> Recorded:
    """Record a customer's data request; the merchant's page offers its export from now on."""
    body = read_body(services, incoming, "shop_domain")
    orders = _order_ids(services, incoming, body, "orders_requested")
    request = body.get("data_request")
    kept = {
        "shop_id": _number(body.get("shop_id")),
        "orders_requested": orders,
        "customer": {"id": _number((body.get("customer") or {}).get("id"))},
        "data_request": {"id": _number(request.get("id") if isinstance(request, dict) else None)},
    }
    return record(services, incoming, "accepted", None, kept)


def receive_customer_redact(services: Services, incoming: Incoming) -> Recorded:
    """Record a customer's erasure request and queue the erasure."""
    body = read_body(services, incoming, "shop_domain")
    orders = _order_ids(services, incoming, body, "orders_to_redact")
    kept = {
        "shop_id": _number(body.get("shop_id")),
        "orders_to_redact": orders,
        "customer": {"id": _number((body.get("customer") or {}).get("id"))},
    }
    recorded = record(services, incoming, "accepted", None, kept)
    if recorded.result == "accepted":
        services.queue.enqueue_compliance(CUSTOMER_REDACT, incoming.shop, incoming.webhook_id)
    return recorded


def receive_shop_redact(services: Services, incoming: Incoming) -> Recorded:
    """Record a shop's erasure request and queue the erasure."""
    body = read_body(services, incoming, "shop_domain")
    kept = {"shop_id": _number(body.get("shop_id")), "shop_domain": incoming.shop}
    recorded = record(services, incoming, "accepted", None, kept)
    if recorded.result == "accepted":
        services.queue.enqueue_compliance(SHOP_REDACT, incoming.shop, incoming.webhook_id)
    return recorded


def redact_customer(services: Services, shop: str, webhook_id: str) -> None:
    """Erase the personal data of the orders a `customers/redact` delivery names."""
    kept = services.privacy.delivery_payload(shop, webhook_id)
    if kept is None:
        log.info("customers/redact %s of %s: nothing left to do", webhook_id, shop)
        return
    erased = services.privacy.redact_orders(shop, [str(i) for i in kept["orders_to_redact"]])
    services.privacy.set_delivery_result(shop, webhook_id, "done", "compliance.customer_redacted")
    log.info("customers/redact %s of %s: erased personal data (%s)", webhook_id, shop, erased)


def erase_shop(services: Services, shop: str, webhook_id: str) -> None:
    """Delete everything printbridge holds about the shop, this delivery's record included."""
    erased = services.privacy.erase_shop(shop)
    services.shops.forget(shop)
    log.info("shop/redact %s: erased every record of %s (%s)", webhook_id, shop, erased)


def give_up(services: Services, shop: str, webhook_id: str) -> None:
    """Record that a privacy job failed for the last time, where support looks."""
    log.error("privacy request %s of %s failed for good", webhook_id, shop)
    services.privacy.set_delivery_result(shop, webhook_id, "failed", "internal.error")


def _order_ids(
    services: Services, incoming: Incoming, body: dict[str, Any], name: str
) -> list[str]:
    try:
        return ids(body.get(name, []))
    except PayloadError as error:
        record(services, incoming, "rejected", error.reason, kept={})
        raise


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
