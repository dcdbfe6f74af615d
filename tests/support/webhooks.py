"""Signed store deliveries, as the store sends them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import SECRET, SHOP
from webhooks.signature import sign


def order_payload(order_id: int, **changes: Any) -> dict[str, Any]:
    """An order body shaped like the store's REST order, cancelled."""
    body: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id % 10000}",
        "order_number": order_id % 10000,
        "email": "bob.norman@mail.example.com",
        "cancel_reason": "customer",
        "cancelled_at": "2026-11-20T11:31:25-05:00",
        "updated_at": "2026-11-20T11:31:25-05:00",
        "tags": "",
        "shipping_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "address1": "Chestnut Street 92",
            "city": "Louisville",
            "zip": "40202",
            "province_code": "KY",
            "country_code": "US",
        },
    }
    body.update(changes)
    return body


def delivery_headers(
    body: bytes,
    *,
    topic: str = "orders/cancelled",
    shop: str = SHOP,
    webhook_id: str | None = None,
    secret: str = SECRET,
    prefix: str = "X-Shopify-",
) -> dict[str, str]:
    """The headers of one signed delivery of `body`."""
    return {
        "Content-Type": "application/json",
        f"{prefix}Topic": topic,
        f"{prefix}Shop-Domain": shop,
        f"{prefix}Hmac-Sha256": sign(body, secret),
        f"{prefix}Webhook-Id": webhook_id or str(uuid.uuid4()),
        f"{prefix}Event-Id": str(uuid.uuid4()),
        f"{prefix}API-Version": "2026-07",
        f"{prefix}Triggered-At": "2026-11-20T16:31:26Z",
    }


def encode(payload: Any) -> bytes:
    """The body bytes of a payload."""
    return json.dumps(payload).encode()


OLD_ADDRESS = {
    "first_name": "Bob",
    "last_name": "Norman",
    "address1": "Chestnut Street 92",
    "address2": "",
    "city": "Louisville",
    "zip": "40202",
    "province_code": "KY",
    "country_code": "US",
    "phone": "+1(502)-459-2181",
}
NEW_ADDRESS = {**OLD_ADDRESS, "address1": "123 Ship Street", "city": "Shipsville"}


def updated_payload(
    order_id: int, address: dict[str, Any] | None, updated_at: str, **changes: Any
) -> dict[str, Any]:
    """An `orders/updated` body: an open order with this shipping address."""
    return order_payload(
        order_id,
        cancelled_at=None,
        cancel_reason=None,
        updated_at=updated_at,
        shipping_address=address,
        **changes,
    )


# OLD_ADDRESS as Gelato holds it.
GELATO_OLD_ADDRESS = {
    "firstName": "Bob",
    "lastName": "Norman",
    "addressLine1": "Chestnut Street 92",
    "city": "Louisville",
    "postCode": "40202",
    "state": "KY",
    "country": "US",
    "email": "bob.norman@mail.example.com",
    "phone": "+1(502)-459-2181",
}
