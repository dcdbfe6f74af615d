"""Address edits: a changed shipping address is re-issued at Gelato before production."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import SHOP, SUPPORT_TOKEN
from tests.functional.conftest import Sandbox
from tests.support.webhooks import (
    GELATO_OLD_ADDRESS,
    NEW_ADDRESS,
    OLD_ADDRESS,
    delivery_headers,
    encode,
    order_payload,
    updated_payload,
)
from tests.support.worker import drain

ORDER = 5550001


def send(client: FlaskClient, topic: str, payload: dict[str, Any]) -> int:
    body = encode(payload)
    response = client.post(
        "/webhooks/shopify", data=body, headers=delivery_headers(body, topic=topic)
    )
    return response.status_code


def created(client: FlaskClient, order_id: int = ORDER) -> None:
    payload = updated_payload(order_id, OLD_ADDRESS, "2026-11-20T10:00:00-05:00")
    assert send(client, "orders/create", payload) == 200


def edited(
    client: FlaskClient,
    address: dict[str, Any] | None = NEW_ADDRESS,
    at: str = "2026-11-20T10:05:00-05:00",
    order_id: int = ORDER,
    **changes: Any,
) -> int:
    return send(client, "orders/updated", updated_payload(order_id, address, at, **changes))


def seed(gelato: Sandbox, *statuses: str, order_id: int = ORDER) -> list[str]:
    answer = gelato.post(
        "/_sandbox/orders",
        {
            "orderReferenceId": str(order_id),
            "parts": len(statuses),
            "statuses": list(statuses),
            "shippingAddress": GELATO_OLD_ADDRESS,
        },
    )
    return [order["id"] for order in answer["orders"]]


def held(gelato: Sandbox, order_id: int = ORDER) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = gelato.get(f"/_sandbox/orders?orderReferenceId={order_id}")[
        "orders"
    ]
    return orders


def live(gelato: Sandbox, order_id: int = ORDER) -> list[dict[str, Any]]:
    return [
        order
        for order in held(gelato, order_id)
        if order["fulfillmentStatus"] != "canceled" and order["orderType"] == "order"
    ]


def log(client: FlaskClient, order_id: int = ORDER) -> dict[str, Any]:
    response = client.get(
        f"/api/orders/{SHOP}/{order_id}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    )
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def address_actions(client: FlaskClient, order_id: int = ORDER) -> list[dict[str, Any]]:
    return [a for a in log(client, order_id)["actions"] if a["kind"] == "address_update"]


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def calls(gelato: Sandbox, endpoint: str) -> list[dict[str, Any]]:
    return [call for call in gelato.get("/_sandbox/requests") if call["endpoint"] == endpoint]


def test_edited_address_is_reissued_with_the_same_items_and_reference(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    (original,) = seed(gelato, "passed")
    created(client)

    assert edited(client) == 200
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "address_updated"
    (replacement,) = live(gelato)
    assert replacement["id"] != original
    assert replacement["shippingAddress"]["addressLine1"] == "123 Ship Street"
    assert replacement["shippingAddress"]["city"] == "Shipsville"
    assert replacement["orderReferenceId"] == str(ORDER)
    old = next(order for order in held(gelato) if order["id"] == original)
    assert old["fulfillmentStatus"] == "canceled"
    assert [item["productUid"] for item in replacement["items"]] == [
        item["productUid"] for item in old["items"]
    ]
    metadata = {entry["key"]: entry["value"] for entry in replacement["metadata"]}
    assert metadata["printbridge_replaces"] == original
    assert action["gelato_orders"] == [
        {
            "id": original,
            "status_found": "passed",
            "result": "reissued",
            "replaced_by": replacement["id"],
            "draft_id": replacement["id"],
        }
    ]
    reported = store.get(f"/_sandbox/orders/{SHOP}/{ORDER}")
    assert "gelato:address-updated" in reported["tags"]
    value = reported["metafields"]["gelato_bridge.last_action"]["value"]
    assert original in value
    assert replacement["id"] in value


def test_edit_of_a_printed_order_is_too_late_and_touches_nothing(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "printed")
    created(client)

    edited(client)
    drain(app)

    assert address_actions(client)[0]["outcome"] == "too_late"
    assert calls(gelato, "create") == []
    assert calls(gelato, "cancel") == []


def test_split_order_with_a_printed_part_is_partially_updated(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    passed, printed = seed(gelato, "passed", "printed")
    created(client)

    edited(client)
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "partially_updated"
    results = {part["id"]: part["result"] for part in action["gelato_orders"]}
    assert results == {passed: "reissued", printed: "too_late"}
    assert {order["id"] for order in live(gelato)} - {printed} != set()


def test_order_printed_between_draft_and_cancel_keeps_the_original_and_drops_the_draft(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    (original,) = seed(gelato, "passed")
    created(client)
    # search, get, create: then the order is printed, before our cancel arrives.
    gelato.post(
        f"/_sandbox/orders/{original}/status-after", {"status": "printed", "after_requests": 3}
    )

    edited(client)
    drain(app)

    assert address_actions(client)[0]["outcome"] == "too_late"
    assert [call["status"] for call in calls(gelato, "cancel")] == [409]
    assert [order["id"] for order in held(gelato)] == [original]


def test_cancel_refused_with_409_is_not_sent_again_when_the_attempt_is_retried(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    (original,) = seed(gelato, "passed")
    created(client)
    # Gelato refuses the cancel of the original; dropping the draft then fails for a while.
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 409, "count": 1})
    gelato.post("/_sandbox/faults", {"endpoint": "delete", "status": 503, "count": 1})

    edited(client)
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "too_late"
    assert [call["status"] for call in calls(gelato, "cancel")] == [409]
    assert [call["status"] for call in calls(gelato, "delete")] == [503, 200]
    assert [order["id"] for order in held(gelato)] == [original]
    assert held(gelato)[0]["fulfillmentStatus"] == "passed"


def test_confirm_refused_with_409_is_not_sent_again_when_the_attempt_is_retried(
    make_app: Any, client_for: Any, gelato: Sandbox
) -> None:
    app = make_app(http_timeout_seconds=0.5)
    client = client_for(app)
    seed(gelato, "passed")
    created(client)
    # The confirm goes through but its answer is lost; the retry's confirm is refused with 409
    # (no longer a draft), and the read that would tell why fails once. The first read (of the
    # original, before the draft exists) is only slowed, so the failure hits the second.
    gelato.post("/_sandbox/faults", {"endpoint": "patch", "timeout": 1.5, "count": 1})
    gelato.post("/_sandbox/faults", {"endpoint": "get", "delay": 0.01, "count": 1})
    gelato.post("/_sandbox/faults", {"endpoint": "get", "status": 503, "count": 1})

    edited(client)
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "address_updated"
    wait_until(lambda: any(call["status"] == 504 for call in calls(gelato, "patch")))
    # The log is in order of answers; the timed-out one was answered last.
    patches = sorted(calls(gelato, "patch"), key=lambda call: call["at"])
    assert [call["status"] for call in patches] == [504, 409]
    assert [call["status"] for call in calls(gelato, "get")] == [200, 503, 200]
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "123 Ship Street"


@pytest.mark.parametrize(
    "endpoint",
    [
        "get",  # after step 1: the order was read, nothing done yet
        "create",  # after step 3: the draft exists, the worker never learned its id
        "cancel",  # after step 4: the original is cancelled, the worker did not see it
        "patch",  # after step 5: the draft became an order, the worker did not see it
    ],
)
def test_interrupted_reissue_resumes_to_exactly_one_live_order_with_the_new_address(
    make_app: Any, client_for: Any, gelato: Sandbox, endpoint: str
) -> None:
    app = make_app(http_timeout_seconds=0.5)
    client = client_for(app)
    (original,) = seed(gelato, "passed")
    created(client)
    # The call reaches Gelato and is carried out, but its answer never comes back: the same
    # state as a worker killed right after the call.
    gelato.post("/_sandbox/faults", {"endpoint": endpoint, "timeout": 1.5, "count": 1})

    edited(client)
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "address_updated"
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "123 Ship Street"
    # The sandbox logs the interrupted call once its own delay is over.
    wait_until(lambda: any(call["status"] == 504 for call in calls(gelato, endpoint)))
    assert len(calls(gelato, "create")) == 1
    # A cancel whose answer was lost is not sent again: the order is read instead.
    assert len(calls(gelato, "cancel")) == 1
    assert [order["orderType"] for order in held(gelato)] == ["order", "order"]
    assert original != replacement["id"]


def test_draft_left_by_an_earlier_edit_that_failed_is_not_reused_for_a_newer_address(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)
    # The first edit drafts its replacement, then Gelato refuses the cancel of the original.
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 400, "count": 1})
    edited(client, {**NEW_ADDRESS, "address1": "1 First Edit Road"})
    drain(app)
    newer = {**NEW_ADDRESS, "address1": "2 Second Edit Road"}
    edited(client, newer, at="2026-11-20T10:20:00-05:00")
    drain(app)

    first, second = address_actions(client)
    assert (first["outcome"], second["outcome"]) == ("needs_attention", "address_updated")
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "2 Second Edit Road"


def test_our_own_tag_write_coming_back_starts_nothing(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)

    assert edited(client, OLD_ADDRESS, tags="gelato:cancelled") == 200

    assert address_actions(client) == []
    assert log(client)["deliveries"][-1]["result"] == "ignored"
    assert services_of(app).queue.queue.count == 0


def test_stale_edit_is_recorded_and_ignored(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)
    edited(client, NEW_ADDRESS, at="2026-11-20T10:10:00-05:00")

    older = {**NEW_ADDRESS, "address1": "Old Edit Lane 1"}
    assert edited(client, older, at="2026-11-20T10:07:00-05:00") == 200
    drain(app)

    assert [d["result"] for d in log(client)["deliveries"]] == ["learned", "accepted", "stale"]
    (action,) = address_actions(client)
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "123 Ship Street"
    assert action["outcome"] == "address_updated"


def test_edit_older_than_an_unchanged_one_is_stale_and_the_newest_address_stays(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)
    assert edited(client, NEW_ADDRESS, at="2026-11-20T10:05:00-05:00") == 200
    # The order changes again later (a tag), its address still the new one...
    assert edited(client, NEW_ADDRESS, at="2026-11-20T10:15:00-05:00", tags="vip") == 200
    # ...then an edit made in between, with another address, arrives late.
    between = {**NEW_ADDRESS, "address1": "Between Edits Road 7"}
    assert edited(client, between, at="2026-11-20T10:10:00-05:00") == 200
    drain(app)

    deliveries = [(d["result"], d["reason"]) for d in log(client)["deliveries"]]
    assert deliveries == [
        ("learned", None),
        ("accepted", None),
        ("ignored", "address.unchanged"),
        ("stale", "event.older_than_applied"),
    ]
    (action,) = address_actions(client)
    assert action["outcome"] == "address_updated"
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "123 Ship Street"


def test_edit_older_than_the_first_address_seen_is_stale(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    # No orders/create reached printbridge: the first edit seen sets the reference address.
    assert edited(client, NEW_ADDRESS, at="2026-11-20T10:15:00-05:00") == 200
    assert edited(client, OLD_ADDRESS, at="2026-11-20T10:10:00-05:00") == 200
    drain(app)

    assert [(d["result"], d["reason"]) for d in log(client)["deliveries"]] == [
        ("ignored", "address.first_seen"),
        ("stale", "event.older_than_applied"),
    ]
    assert address_actions(client) == []
    assert calls(gelato, "cancel") == []


def test_order_created_arriving_after_an_edit_is_stale(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    assert edited(client, NEW_ADDRESS, at="2026-11-20T10:15:00-05:00") == 200
    created(client)
    # Edited back to the address the order was created with: a change from the newest seen.
    assert edited(client, OLD_ADDRESS, at="2026-11-20T10:20:00-05:00") == 200
    drain(app)

    assert [(d["result"], d["reason"]) for d in log(client)["deliveries"]] == [
        ("ignored", "address.first_seen"),
        ("stale", "event.older_than_applied"),
        ("accepted", None),
    ]
    (action,) = address_actions(client)
    assert action["outcome"] == "address_updated"


def test_burst_of_ten_edits_gives_one_reissue_with_the_last_address(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)

    for n in range(10):
        address = {**NEW_ADDRESS, "address1": f"{n + 1} Burst Road"}
        assert edited(client, address, at=f"2026-11-20T10:{10 + n}:00-05:00") == 200
    drain(app)

    outcomes = [action["outcome"] for action in address_actions(client)]
    assert outcomes == ["superseded"] * 9 + ["address_updated"]
    (replacement,) = live(gelato)
    assert replacement["shippingAddress"]["addressLine1"] == "10 Burst Road"
    assert len(calls(gelato, "create")) == 1


def test_edit_after_the_order_was_cancelled_does_nothing(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)
    assert send(client, "orders/cancelled", order_payload(ORDER)) == 200
    drain(app)

    assert edited(client, at="2026-11-20T12:00:00-05:00") == 200
    drain(app)

    assert address_actions(client) == []
    assert log(client)["deliveries"][-1]["reason"] == "order.cancelled"


@pytest.mark.parametrize(
    ("address", "reason"),
    [(None, "address.missing"), ({"first_name": "", "country_code": ""}, "address.redacted")],
)
def test_missing_or_redacted_address_is_recorded_with_its_reason(
    app: Flask, client: FlaskClient, address: Any, reason: str
) -> None:
    created(client)

    assert edited(client, address) == 200

    assert log(client)["deliveries"][-1]["reason"] == reason
    assert address_actions(client) == []


def test_address_gelato_would_reject_needs_attention_before_anything_is_cancelled(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)

    edited(client, {**NEW_ADDRESS, "address1": "A street name far longer than Gelato accepts"})
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "needs_attention"
    assert action["reason"] == "address.invalid"
    assert "addressLine1 is longer than 35" in action["message"]
    assert calls(gelato, "cancel") == []


def test_country_change_needs_attention_when_not_allowed(
    make_app: Any, client_for: Any, gelato: Sandbox
) -> None:
    app = make_app(allow_country_change=False)
    client = client_for(app)
    seed(gelato, "passed")
    created(client)

    edited(client, {**NEW_ADDRESS, "country_code": "CA", "province_code": "ON"})
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "needs_attention"
    assert action["reason"] == "address.country_change_not_allowed"
    assert calls(gelato, "cancel") == []


def test_country_change_is_reissued_when_allowed(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    created(client)

    edited(client, {**NEW_ADDRESS, "country_code": "CA", "province_code": "ON"})
    drain(app)

    assert address_actions(client)[0]["outcome"] == "address_updated"
    assert live(gelato)[0]["shippingAddress"]["country"] == "CA"


def test_dry_run_address_edit_changes_nothing(
    make_app: Any, client_for: Any, gelato: Sandbox
) -> None:
    app = make_app(dry_run=True)
    client = client_for(app)
    seed(gelato, "passed")
    created(client)

    edited(client)
    drain(app)

    (action,) = address_actions(client)
    assert action["outcome"] == "dry_run"
    assert action["would_be"] == "address_updated"
    assert calls(gelato, "create") == []
    assert calls(gelato, "cancel") == []
