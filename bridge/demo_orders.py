"""The demo's store orders: what Gelato holds for each, the webhooks sent, the table printed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import requests

from webhooks.signature import sign

SHOP = "demo-store.myshopify.com"
FINAL_WAIT_SECONDS = 90
GELATO_ADDRESS = {
    "firstName": "Bob",
    "lastName": "Norman",
    "addressLine1": "Chestnut Street 92",
    "city": "Louisville",
    "postCode": "40202",
    "state": "KY",
    "country": "US",
    "email": "bob.norman@example.com",
}
STORE_ADDRESS = {
    "first_name": "Bob",
    "last_name": "Norman",
    "address1": "Chestnut Street 92",
    "city": "Louisville",
    "zip": "40202",
    "province_code": "KY",
    "country_code": "US",
}


@dataclass(frozen=True)
class DemoOrder:
    """A store order of the demo: Gelato's statuses for it, and what happens in the store."""

    label: str
    statuses: tuple[str, ...]
    address_edits: int = 0  # 0: the order is cancelled; n: its address is edited n times


ORDERS = (
    DemoOrder("cancel: still passed", ("passed",)),
    DemoOrder("cancel: already printed", ("printed",)),
    DemoOrder("cancel: split, 1 printed", ("passed", "printed")),
    DemoOrder("cancel: unknown to Gelato", ()),
    DemoOrder("new address: passed", ("passed",), address_edits=1),
    DemoOrder("new address: printed", ("printed",), address_edits=1),
    DemoOrder("3 address edits at once", ("passed",), address_edits=3),
)


class DemoStore:
    """Plays the store: seeds Gelato's side and sends signed webhooks to printbridge."""

    def __init__(self, web_url: str, secret: str, gelato_url: str) -> None:
        self.web_url, self.secret, self.gelato_url = web_url, secret, gelato_url
        self.http = requests.Session()
        self.clock = datetime.now(UTC).replace(microsecond=0)

    def play(self, order_id: str, order: DemoOrder) -> None:
        """Seed Gelato and send the order's webhooks; say what was sent."""
        if order.statuses:
            self.http.post(
                f"{self.gelato_url}/_sandbox/orders",
                json={
                    "orderReferenceId": order_id,
                    "parts": len(order.statuses),
                    "statuses": list(order.statuses),
                    "shippingAddress": GELATO_ADDRESS,
                },
                timeout=10,
            ).raise_for_status()
        self.send("orders/create", self._order(order_id))
        if not order.address_edits:
            cancellation = self._order(order_id, cancelled=True)
            # Twice with one delivery id, as stores do: the second is recorded as a duplicate.
            for _ in range(2):
                self.send("orders/cancelled", cancellation, webhook_id=f"demo-cancel-{order_id}")
            click.echo(f"sent orders/cancelled (twice) for order {order_id} ({order.label})")
            return
        for edit in range(order.address_edits):
            address = {**STORE_ADDRESS, "address1": f"{edit + 1} New Street", "city": "Shipsville"}
            self.send("orders/updated", self._order(order_id, address=address))
        click.echo(
            f"sent {order.address_edits} address edit(s) for order {order_id} ({order.label})"
        )

    def send(self, topic: str, payload: dict[str, Any], webhook_id: str | None = None) -> int:
        """Send one signed delivery; return the answer's status."""
        body = json.dumps(payload).encode()
        response = self.http.post(
            f"{self.web_url}/webhooks/shopify",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Hmac-Sha256": sign(body, self.secret),
                "X-Shopify-Webhook-Id": webhook_id or f"demo-{time.time_ns()}",
                "X-Shopify-API-Version": "2026-07",
                "X-Shopify-Triggered-At": payload["updated_at"],
            },
            timeout=10,
        )
        return response.status_code

    def _order(
        self, order_id: str, cancelled: bool = False, address: dict[str, str] | None = None
    ) -> dict[str, Any]:
        # Every event is a second later than the one before, as the store's updated_at is.
        self.clock += timedelta(seconds=1)
        now = self.clock.isoformat()
        return {
            "id": int(order_id),
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{order_id[-4:]}",
            "order_number": int(order_id[-4:]),
            "email": "bob.norman@example.com",
            "cancelled_at": now if cancelled else None,
            "cancel_reason": "customer" if cancelled else None,
            "updated_at": now,
            "shipping_address": address or STORE_ADDRESS,
        }


def wait_for_outcomes(
    api: requests.Session, web_url: str, order_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Each order's sync log once every action has ended and reported back."""
    deadline = time.monotonic() + FINAL_WAIT_SECONDS
    documents: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for order_id in order_ids:
            response = api.get(f"{web_url}/api/orders/{SHOP}/{order_id}", timeout=10)
            if response.ok:
                documents[order_id] = response.json()
        if all(_finished(documents.get(order_id)) for order_id in order_ids):
            return {order_id: documents[order_id] for order_id in order_ids}
        time.sleep(0.5)
    raise click.ClickException("not every order reached an outcome in time; see the sync log")


def print_table(documents: dict[str, dict[str, Any]], store_url: str) -> None:
    """One line per order: its case, Gelato's statuses, the outcome, the tags on the order."""
    click.echo(f"\n{'order':<13} {'case':<27} {'gelato':<16} {'outcome':<31} store tags")
    for (order_id, document), order in zip(documents.items(), ORDERS, strict=True):
        actions = document["actions"]
        last = actions[-1]
        superseded = sum(1 for action in actions if action["outcome"] == "superseded")
        outcome = last["outcome"] + (f" ({superseded} superseded)" if superseded else "")
        tags = requests.get(f"{store_url}/_sandbox/orders/{SHOP}/{order_id}", timeout=10).json()
        statuses = ", ".join(str(part.get("status_found")) for part in last["gelato_orders"])
        click.echo(
            f"{order_id:<13} {order.label:<27} {statuses or '-':<16} {outcome:<31} "
            f"{', '.join(tags.get('tags', [])) or '-'}"
        )


def _finished(document: dict[str, Any] | None) -> bool:
    if not document or not document["actions"]:
        return False
    return all(
        action["outcome"] is not None and action["report"]["state"] != "pending"
        for action in document["actions"]
    )
