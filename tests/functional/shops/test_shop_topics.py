"""Shop-level deliveries are recorded as durably as order deliveries: 503 when they cannot be."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bridge.app import services_of
from tests.support.install import MERCHANT_SHOP
from tests.support.webhooks import delivery_headers

BODIES: dict[str, dict[str, Any]] = {
    "app/uninstalled": {"id": 1, "myshopify_domain": MERCHANT_SHOP},
    "customers/data_request": {"shop_domain": MERCHANT_SHOP, "orders_requested": [1]},
    "customers/redact": {"shop_domain": MERCHANT_SHOP, "orders_to_redact": [1]},
    "shop/redact": {"shop_domain": MERCHANT_SHOP},
}


def post(app: Flask, topic: str, webhook_id: str | None = None) -> int:
    raw = json.dumps(BODIES[topic]).encode()
    headers = delivery_headers(raw, topic=topic, shop=MERCHANT_SHOP, webhook_id=webhook_id)
    return app.test_client().post("/webhooks/shopify", data=raw, headers=headers).status_code


@pytest.mark.parametrize("topic", sorted(BODIES))
def test_database_unavailable_answers_503(shop_app: Flask, topic: str) -> None:
    engine = services_of(shop_app).storage.engine
    engine.dispose()
    path = Path(str(engine.url.database))
    path.unlink()
    path.mkdir()

    assert post(shop_app, topic) == 503
    assert services_of(shop_app).queue.queue.count == 0


@pytest.mark.parametrize("topic", ["customers/redact", "shop/redact"])
def test_redis_unavailable_answers_503_and_the_retry_queues_the_erasure(
    shop_app: Flask, topic: str
) -> None:
    queue = services_of(shop_app).queue.queue
    working = queue.connection.connection_pool
    queue.connection.connection_pool = type(working)(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2
    )
    webhook_id = str(uuid.uuid4())
    try:
        assert post(shop_app, topic, webhook_id) == 503
    finally:
        queue.connection.connection_pool = working

    assert post(shop_app, topic, webhook_id) == 200
    assert queue.count == 1
