"""Real web and worker processes cancel orders at the Gelato sandbox and report back."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.conftest import SHOP
from tests.e2e.conftest import Deployment
from tests.support.webhooks import (
    GELATO_OLD_ADDRESS,
    NEW_ADDRESS,
    OLD_ADDRESS,
    delivery_headers,
    encode,
    order_payload,
    updated_payload,
)

pytestmark = pytest.mark.e2e
T0, T1, T2 = (f"2026-11-20T10:0{n}:00-05:00" for n in range(3))


def seed(deployment: Deployment, reference: int, *statuses: str) -> None:
    requests.post(
        f"{deployment.gelato_url}/_sandbox/orders",
        json={
            "orderReferenceId": str(reference),
            "parts": len(statuses),
            "statuses": list(statuses),
        },
        timeout=10,
    ).raise_for_status()


def send_cancel(deployment: Deployment, order_id: int, webhook_id: str | None = None) -> int:
    body = encode(order_payload(order_id))
    return requests.post(
        f"{deployment.url}/webhooks/shopify",
        data=body,
        headers=delivery_headers(body, webhook_id=webhook_id),
        timeout=10,
    ).status_code


def final_action(deployment: Deployment, order_id: int, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = deployment.api(f"/api/orders/{SHOP}/{order_id}")
        if response.ok:
            action: dict[str, Any] = response.json()["actions"][-1]
            if action["outcome"] and action["report"]["state"] != "pending":
                return action
        time.sleep(0.2)
    log = (deployment.logs / "worker.log").read_text()
    pytest.fail(f"order {order_id} reached no outcome in {timeout}s; worker log:\n{log}")


def tags(deployment: Deployment, order_id: int) -> list[str]:
    answer = requests.get(
        f"{deployment.store_url}/_sandbox/orders/{SHOP}/{order_id}", timeout=10
    ).json()
    found: list[str] = answer["tags"]
    return found


def test_cancellations_reach_every_outcome_through_real_processes(
    deployment: Deployment,
) -> None:
    seed(deployment, 101, "passed")
    seed(deployment, 102, "printed")
    seed(deployment, 103, "passed", "printed")

    answers = [send_cancel(deployment, order_id) for order_id in (101, 102, 103, 104)]

    assert answers == [200, 200, 200, 200]
    expected = {
        101: ("cancelled", "gelato:cancelled"),
        102: ("too_late", "gelato:too-late"),
        103: ("partially_cancelled", "gelato:partially-cancelled"),
        104: ("not_found", "gelato:not-found"),
    }
    for order_id, (outcome, tag) in expected.items():
        action = final_action(deployment, order_id)
        assert action["outcome"] == outcome, action
        assert action["report"]["state"] == "done"
        assert tag in tags(deployment, order_id)


def test_a_delivery_repeated_five_times_cancels_once(deployment: Deployment) -> None:
    seed(deployment, 201, "passed")

    answers = [send_cancel(deployment, 201, webhook_id="repeated") for _ in range(5)]
    action = final_action(deployment, 201)

    assert answers == [200] * 5
    assert action["outcome"] == "cancelled"
    sent = requests.get(f"{deployment.gelato_url}/_sandbox/requests", timeout=10).json()
    assert len([call for call in sent if call["endpoint"] == "cancel"]) == 1


def test_wrong_signature_is_refused_by_the_real_server(deployment: Deployment) -> None:
    body = encode(order_payload(301))
    headers = delivery_headers(body)
    headers["X-Shopify-Hmac-Sha256"] = "forged"

    response = requests.post(
        f"{deployment.url}/webhooks/shopify", data=body, headers=headers, timeout=10
    )

    assert response.status_code == 401
    assert deployment.api(f"/api/orders/{SHOP}/301").status_code == 404


def send(deployment: Deployment, topic: str, payload: dict[str, Any]) -> int:
    body = encode(payload)
    return requests.post(
        f"{deployment.url}/webhooks/shopify",
        data=body,
        headers=delivery_headers(body, topic=topic),
        timeout=10,
    ).status_code


def test_address_edit_is_reissued_and_our_own_tag_echo_starts_nothing(
    deployment: Deployment,
) -> None:
    requests.post(
        f"{deployment.gelato_url}/_sandbox/orders",
        json={"orderReferenceId": "401", "status": "passed", "shippingAddress": GELATO_OLD_ADDRESS},
        timeout=10,
    ).raise_for_status()
    assert send(deployment, "orders/create", updated_payload(401, OLD_ADDRESS, T0)) == 200

    assert send(deployment, "orders/updated", updated_payload(401, NEW_ADDRESS, T1)) == 200
    action = final_action(deployment, 401)
    # The store echoes our tag write back as orders/updated: same address, new updated_at.
    echo = updated_payload(401, NEW_ADDRESS, T2, tags="gelato:address-updated")
    assert send(deployment, "orders/updated", echo) == 200

    assert action["outcome"] == "address_updated"
    assert "gelato:address-updated" in tags(deployment, 401)
    orders = requests.get(
        f"{deployment.gelato_url}/_sandbox/orders?orderReferenceId=401", timeout=10
    ).json()["orders"]
    live = [order for order in orders if order["fulfillmentStatus"] != "canceled"]
    assert [order["shippingAddress"]["addressLine1"] for order in live] == ["123 Ship Street"]
    document = deployment.api(f"/api/orders/{SHOP}/401").json()
    assert len(document["actions"]) == 1
    assert document["deliveries"][-1]["reason"] == "address.unchanged"
