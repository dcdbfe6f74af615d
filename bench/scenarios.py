"""Webhook scenarios: signed store deliveries as raw HTTP requests, built before timing.

A scenario is a topic plus a body builder. Adding one (say the `orders/updated` no-change
path) is one more `Scenario(...)` in SCENARIOS; `prime` lists deliveries to send, untimed,
before the measured one for the same order (to put the order into the state the scenario
needs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

SHOP = "bench-store.myshopify.com"
PATH = "/webhooks/shopify"
API_VERSION = "2026-07"
TIMESTAMP = "2026-11-20T16:31:26Z"

Body = dict[str, Any]


def order_body(order_id: int, **changes: Any) -> Body:
    """A store order as the REST webhooks send it: customer, address and two line items."""
    address = {
        "first_name": "Bob",
        "last_name": "Norman",
        "address1": "Chestnut Street 92",
        "city": "Louisville",
        "zip": "40202",
        "province_code": "KY",
        "country_code": "US",
        "phone": "+1 555 0100",
    }
    items = [
        {
            "id": order_id * 10 + n,
            "sku": f"POSTER-A{n + 2}",
            "title": f"Poster A{n + 2}",
            "quantity": 1,
            "price": "24.00",
            "vendor": "bench",
            "fulfillment_service": "gelato",
        }
        for n in range(2)
    ]
    body: Body = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id % 100000}",
        "order_number": order_id % 100000,
        "email": "bob.norman@mail.example.com",
        "currency": "USD",
        "total_price": "48.00",
        "financial_status": "refunded",
        "cancel_reason": "customer",
        "cancelled_at": "2026-11-20T11:31:25-05:00",
        "created_at": "2026-11-20T10:02:11-05:00",
        "updated_at": "2026-11-20T11:31:25-05:00",
        "tags": "",
        "shipping_address": address,
        "billing_address": address,
        "line_items": items,
    }
    body.update(changes)
    return body


@dataclass(frozen=True)
class Scenario:
    """One kind of delivery to measure."""

    name: str
    topic: str
    body: Callable[[int], Body]
    prime: Callable[[int], list[tuple[str, Body]]] = field(default=lambda _order_id: [])
    ratio_target: float = 0.45
    p99_target_ms: float = 25.0


def unchanged_update(order_id: int) -> Body:
    """An open order updated without an address change: printbridge's own tag coming back."""
    return order_body(
        order_id,
        cancelled_at=None,
        cancel_reason=None,
        financial_status="paid",
        updated_at="2026-11-20T11:40:00-05:00",
        tags="gelato:cancelled",
    )


def order_created(order_id: int) -> list[tuple[str, Body]]:
    """orders/create, which teaches printbridge the order's shipping address."""
    return [
        (
            "orders/create",
            order_body(order_id, cancelled_at=None, cancel_reason=None, financial_status="paid"),
        )
    ]


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(name="cancelled", topic="orders/cancelled", body=order_body),
        # The busiest route at peak (issue 3): an orders/updated that changes no address.
        Scenario(
            name="updated-no-change",
            topic="orders/updated",
            body=unchanged_update,
            prime=order_created,
            ratio_target=0.75,
            p99_target_ms=15.0,
        ),
    )
}


def sign(body: bytes, secret: str) -> str:
    """The store's signature: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def raw_request(host: str, topic: str, body: bytes, secret: str, webhook_id: str) -> bytes:
    """One signed delivery as the bytes of an HTTP/1.1 request."""
    headers = {
        "Host": host,
        "User-Agent": "Shopify-Captain-Hook",
        "Accept": "*/*",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": f"event-{webhook_id}",
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Triggered-At": TIMESTAMP,
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {PATH} HTTP/1.1\r\n{head}\r\n".encode() + body


@dataclass(frozen=True)
class Batch:
    """Deliveries for distinct orders: `requests[i]` is for `order_ids[i]`."""

    order_ids: list[int]
    requests: list[bytes]
    primes: list[bytes]


class Deliveries:
    """Hands out batches of distinct deliveries: no order or webhook id is ever reused."""

    def __init__(self, host: str, secret: str, first_order_id: int = 5_000_000_001) -> None:
        self._host = host
        self._secret = secret
        self._first = first_order_id
        self._order_ids: Iterator[int] = itertools.count(first_order_id)
        self._webhook_ids: Iterator[int] = itertools.count(1)

    def batch(self, scenario: Scenario, count: int) -> Batch:
        """`count` signed deliveries of `scenario`, each for a new order."""
        order_ids = [next(self._order_ids) for _ in range(count)]
        primes = [
            self._request(topic, body)
            for order_id in order_ids
            for topic, body in scenario.prime(order_id)
        ]
        requests = [
            self._request(scenario.topic, scenario.body(order_id)) for order_id in order_ids
        ]
        return Batch(order_ids, requests, primes)

    def _request(self, topic: str, body: Body) -> bytes:
        encoded = json.dumps(body, separators=(",", ":")).encode()
        webhook_id = f"bench-{self._first}-{next(self._webhook_ids):09d}"
        return raw_request(self._host, topic, encoded, self._secret, webhook_id)
