"""What a functional test reads back through the app: the queue's length, an order's deliveries."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import SHOP, SUPPORT_TOKEN


def queued(app: Flask) -> int:
    """Jobs waiting in the app's queue."""
    return services_of(app).queue.queue.count


def order_deliveries(client: FlaskClient, order_id: int) -> list[dict[str, Any]]:
    """The store order's deliveries as the sync-log API shows them (none for an unknown order)."""
    response = client.get(
        f"/api/orders/{SHOP}/{order_id}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    )
    if response.status_code == 404:
        return []
    found: list[dict[str, Any]] = response.get_json()["deliveries"]
    return found
