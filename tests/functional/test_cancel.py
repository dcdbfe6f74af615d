"""A signed store cancellation, through the web app and a real worker, to every outcome."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import SHOP, SUPPORT_TOKEN
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain, run_once

ORDER_ID = 820982911946154508


def cancel(client: FlaskClient, order_id: int = ORDER_ID, webhook_id: str | None = None) -> int:
    body = encode(order_payload(order_id))
    response = client.post(
        "/webhooks/shopify", data=body, headers=delivery_headers(body, webhook_id=webhook_id)
    )
    return response.status_code


def sync_log(client: FlaskClient, order_id: int = ORDER_ID) -> dict[str, Any]:
    response = client.get(
        f"/api/orders/{SHOP}/{order_id}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    )
    assert response.status_code == 200, response.data
    document: dict[str, Any] = response.get_json()
    return document


def only_action(client: FlaskClient, order_id: int = ORDER_ID) -> dict[str, Any]:
    actions = sync_log(client, order_id)["actions"]
    assert len(actions) == 1
    action: dict[str, Any] = actions[0]
    return action


def seed(gelato: Sandbox, *statuses: str, reference: int = ORDER_ID) -> list[str]:
    answer = gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(reference), "parts": len(statuses), "statuses": list(statuses)},
    )
    return [order["id"] for order in answer["orders"]]


def cancel_requests(gelato: Sandbox) -> list[dict[str, Any]]:
    return [call for call in gelato.get("/_sandbox/requests") if call["endpoint"] == "cancel"]


def store_order(store: Sandbox, order_id: int = ORDER_ID) -> dict[str, Any]:
    result: dict[str, Any] = store.get(f"/_sandbox/orders/{SHOP}/{order_id}")
    return result


@pytest.mark.parametrize("status", ["created", "uploading", "passed", "pending_approval"])
def test_cancel_before_production_cancels_at_gelato_and_tags_the_order(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox, status: str
) -> None:
    (gelato_id,) = seed(gelato, status)

    assert cancel(client) == 200
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["gelato_orders"][0]["id"] == gelato_id
    assert action["gelato_orders"][0]["status_found"] == status
    assert [call["status"] for call in action["api_calls"] if call["service"] == "gelato"] == [
        200,
        200,
    ]
    (held,) = gelato.get(f"/_sandbox/orders?orderReferenceId={ORDER_ID}")["orders"]
    assert held["fulfillmentStatus"] == "canceled"
    reported = store_order(store)
    assert "gelato:cancelled" in reported["tags"]
    assert reported["metafields"]["gelato_bridge.last_action"]["type"] == "json"
    assert action["report"]["state"] == "done"


@pytest.mark.parametrize(
    "status", ["in_production", "printed", "shipped", "in_transit", "delivered", "returned"]
)
def test_cancel_of_order_past_the_cut_is_too_late_and_not_retried(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox, status: str
) -> None:
    seed(gelato, status)

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "too_late"
    assert action["attempt_count"] == 1
    assert cancel_requests(gelato) == []
    assert "gelato:too-late" in store_order(store)["tags"]


def test_cancel_answered_409_is_too_late_and_never_retried(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    (gelato_id,) = seed(gelato, "passed")
    # The order is printed between the search and the cancel: Gelato answers 409.
    gelato.post(
        f"/_sandbox/orders/{gelato_id}/status-after", {"status": "printed", "after_requests": 1}
    )

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "too_late"
    assert [call["status"] for call in cancel_requests(gelato)] == [409]
    assert action["attempt_count"] == 1


def test_already_cancelled_order_is_reported_as_such(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    seed(gelato, "canceled")

    cancel(client)
    drain(app)

    assert only_action(client)["outcome"] == "already_cancelled"
    assert cancel_requests(gelato) == []
    assert "gelato:already-cancelled" in store_order(store)["tags"]


def test_split_order_with_one_part_printed_is_partially_cancelled(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    passed_id, printed_id = seed(gelato, "passed", "printed")

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "partially_cancelled"
    results = {part["id"]: part["result"] for part in action["gelato_orders"]}
    assert results == {passed_id: "cancelled", printed_id: "too_late"}
    assert "Gelato order 2/2" in action["message"]
    assert "gelato:partially-cancelled" in store_order(store)["tags"]


def test_split_order_all_before_production_is_cancelled_part_by_part(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed", "created", "uploading")

    cancel(client)
    drain(app)

    assert only_action(client)["outcome"] == "cancelled"
    assert len(cancel_requests(gelato)) == 3


def test_order_gelato_never_received_ends_not_found_after_the_grace_period(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    cancel(client)
    drain(app)

    assert only_action(client)["outcome"] == "not_found"
    assert "gelato:not-found" in store_order(store)["tags"]


def test_order_that_reaches_gelato_late_is_found_on_a_retry(make_app: Any, gelato: Sandbox) -> None:
    app = make_app(not_found_grace_seconds=60.0, retry_base_seconds=0.1, retry_cap_seconds=0.1)
    client = app.test_client()
    cancel(client)
    # The first attempt finds nothing; the order arrives at Gelato before the retry.
    run_once(app)
    assert only_action(client)["state"] == "retrying"
    seed(gelato, "passed")
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["attempt_count"] == 2


def test_transient_503_then_success_retries_and_cancels(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 1})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["attempt_count"] == 2
    assert [call["status"] for call in cancel_requests(gelato)] == [503, 200]
    assert action["attempts"][0]["result"] == "retry"
    assert action["attempts"][0]["reason"] == "gelato.unavailable"


def test_429_with_retry_after_waits_at_least_that_long(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    gelato.post(
        "/_sandbox/faults", {"endpoint": "search", "status": 429, "count": 1, "retry_after": 1}
    )

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["attempts"][0]["reason"] == "gelato.rate_limited"
    assert action["attempts"][0]["retry_in_seconds"] >= 1
    searches = [call for call in gelato.get("/_sandbox/requests") if call["endpoint"] == "search"]
    assert searches[1]["at"] - searches[0]["at"] >= 1.0


def test_job_that_lost_the_order_lock_sends_no_cancel_and_the_retry_cancels_once(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")
    # The search is slow; meanwhile the order's lock passes to someone else (as when the
    # job's process stalled past its lease and a successor took the order over).
    gelato.post("/_sandbox/faults", {"endpoint": "search", "delay": 1.0, "count": 1})
    redis = services_of(app).redis
    name = f"printbridge:order-lock:{SHOP}:{ORDER_ID}"

    def take_over() -> None:
        deadline = time.monotonic() + 20
        while not redis.exists(name) and time.monotonic() < deadline:
            time.sleep(0.005)
        redis.set(name, "successor-token", px=1500)

    taker = threading.Thread(target=take_over)
    taker.start()
    cancel(client)
    drain(app)
    taker.join()

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["attempts"][0]["result"] == "retry"
    assert action["attempts"][0]["reason"] == "action.lease_lost"
    assert [call["status"] for call in cancel_requests(gelato)] == [200]


def test_cancel_whose_answer_was_lost_ends_cancelled_without_a_second_cancel(
    make_app: Any, gelato: Sandbox, store: Sandbox
) -> None:
    app = make_app(http_timeout_seconds=0.5)
    client = app.test_client()
    (gelato_id,) = seed(gelato, "passed")
    # Gelato carries the cancel out but its answer never arrives: the same state as a worker
    # killed while it waited for it.
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "timeout": 1.5, "count": 1})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "cancelled"
    assert action["gelato_orders"][0]["result"] == "cancelled"
    assert action["gelato_orders"][0]["status_found"] == "canceled"
    assert action["attempts"][0]["reason"] == "gelato.timeout"
    assert "gelato:cancelled" in store_order(store)["tags"]
    # The sandbox logs the unanswered cancel once its own delay is over.
    deadline = time.monotonic() + 5
    while not cancel_requests(gelato) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [call["path"] for call in cancel_requests(gelato)] == [f"/v4/orders/{gelato_id}:cancel"]


def test_part_refused_with_409_is_not_cancelled_again_when_another_part_is_retried(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed", "passed")
    # The first cancel is refused, the second fails for a while: the action is retried.
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 409, "count": 1})
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 1})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "partially_cancelled"
    refused, retried = [call["path"] for call in cancel_requests(gelato)][:2]
    assert [(call["path"], call["status"]) for call in cancel_requests(gelato)] == [
        (refused, 409),
        (retried, 503),
        (retried, 200),
    ]


def test_status_moving_to_printed_between_retries_ends_too_late(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    (gelato_id,) = seed(gelato, "passed")
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 1})
    # Two requests (search, failed cancel) later, the order is printed.
    gelato.post(
        f"/_sandbox/orders/{gelato_id}/status-after", {"status": "printed", "after_requests": 2}
    )

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "too_late"
    assert [call["status"] for call in cancel_requests(gelato)] == [503]
    assert action["gelato_orders"][0]["status_found"] == "printed"


@pytest.mark.parametrize(
    ("status", "reason"), [(401, "gelato.unauthorized"), (400, "gelato.rejected")]
)
def test_permanent_gelato_errors_need_attention_without_retry(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox, status: int, reason: str
) -> None:
    seed(gelato, "passed")
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": status, "count": 1})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "needs_attention"
    assert action["reason"] == reason
    assert action["attempt_count"] == 1
    assert "gelato:needs-attention" in store_order(store)["tags"]


def test_retries_running_out_end_needs_attention(
    make_app: Any, gelato: Sandbox, store: Sandbox
) -> None:
    app = make_app(retry_max=2)
    client = app.test_client()
    seed(gelato, "passed")
    gelato.post("/_sandbox/faults", {"endpoint": "search", "status": 502, "count": 10})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "needs_attention"
    assert action["reason"] == "retries.exhausted"
    assert action["attempt_count"] == 3
    assert "gelato:needs-attention" in store_order(store)["tags"]


def test_the_same_delivery_five_times_sends_one_cancel(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")

    answers = [cancel(client, webhook_id="same-delivery") for _ in range(5)]
    drain(app)

    assert answers == [200] * 5
    assert len(cancel_requests(gelato)) == 1
    deliveries = sync_log(client)["deliveries"]
    assert len(deliveries) == 1
    assert deliveries[0]["duplicates"] == 4


def test_the_same_cancellation_under_new_delivery_ids_creates_one_action(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")

    cancel(client)
    cancel(client)
    drain(app)
    cancel(client)
    drain(app)

    document = sync_log(client)
    assert [delivery["result"] for delivery in document["deliveries"]] == [
        "accepted",
        "repeat",
        "repeat",
    ]
    assert len(document["actions"]) == 1
    assert len(cancel_requests(gelato)) == 1


def test_dry_run_logs_what_it_would_do_and_changes_nothing(
    make_app: Any, gelato: Sandbox, store: Sandbox
) -> None:
    app = make_app(dry_run=True)
    client = app.test_client()
    seed(gelato, "passed", "printed")

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["outcome"] == "dry_run"
    assert action["would_be"] == "partially_cancelled"
    assert cancel_requests(gelato) == []
    reported = store_order(store)
    assert reported["tags"] == []
    assert "gelato_bridge.last_action" in reported["metafields"]


def test_report_back_survives_a_throttled_store(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    seed(gelato, "passed")
    store.post("/_sandbox/faults", {"kind": "throttled", "count": 1})
    store.post("/_sandbox/faults", {"kind": "429", "count": 1, "retry_after": 1})

    cancel(client)
    drain(app)

    action = only_action(client)
    assert action["report"]["state"] == "done"
    assert "gelato:cancelled" in store_order(store)["tags"]
    store_calls = [call for call in action["api_calls"] if call["service"] == "store"]
    assert [call["status"] for call in store_calls][:2] == [200, 429]


def test_api_calls_in_the_sync_log_never_hold_the_keys(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    seed(gelato, "passed")

    cancel(client)
    drain(app)

    document = sync_log(client)
    text = str(document)
    assert "gelato-test-key" not in text
    assert "shpat_test_token" not in text
    assert document["actions"][0]["api_calls"]
