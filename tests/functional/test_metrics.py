"""GET /metrics through the test client: deliveries, jobs, Gelato calls, actions, the queue."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from bridge.app import admission_of
from bridge.config import WebTier
from tests.functional.conftest import Sandbox
from tests.support.metrics import scrape, value
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

ORDER_ID = 820982911946154508
METRICS_TOKEN = "metrics-token-0123456789"


def seed(gelato: Sandbox, *statuses: str) -> None:
    gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(ORDER_ID), "parts": len(statuses), "statuses": list(statuses)},
    )


def send(client: FlaskClient, body: bytes, **headers: Any) -> int:
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    return response.status_code


def test_a_cancellation_and_its_jobs_show_in_the_metrics(
    client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    seed(gelato, "passed")
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body)

    assert send(client, body, **headers) == 200
    assert send(client, body, **headers) == 200
    queued = scrape(client)
    drain(client.application)
    samples = scrape(client)

    deliveries = "printbridge_webhook_deliveries_total"
    assert value(samples, deliveries, topic="orders/cancelled", result="accepted") == 1
    assert value(samples, deliveries, topic="orders/cancelled", result="duplicate") == 1
    assert value(queued, "printbridge_queue_jobs", state="queued") == 1
    assert value(queued, "printbridge_actions_open", state="pending") == 1
    assert value(samples, "printbridge_queue_jobs", state="queued") == 0
    assert value(samples, "printbridge_actions_ended", outcome="cancelled") == 1
    assert value(samples, "printbridge_actions_open", state="pending") == 0
    for job in ("run_action", "report_back"):
        assert value(samples, "printbridge_jobs_total", job=job, result="ok") == 1
        assert value(samples, "printbridge_job_duration_seconds_count", job=job) == 1
        assert value(samples, "printbridge_job_wait_seconds_count", job=job) == 1
        assert value(samples, "printbridge_job_duration_seconds_bucket", job=job, le="+Inf") == 1
    gelato_calls = {
        labels: count
        for (name, labels), count in samples.items()
        if name == "printbridge_api_calls_total" and ("service", "gelato") in labels
    }
    # The search, then the cancel; both answered 200.
    assert list(gelato_calls.values()) == [2]
    assert value(samples, "printbridge_api_calls_total", service="gelato", method="POST",
                 result="200") == 2  # fmt: skip
    assert value(samples, "printbridge_api_call_duration_seconds_count", service="gelato",
                 method="POST") == 2  # fmt: skip
    assert value(samples, "printbridge_api_calls_total", service="store", method="POST",
                 result="200") >= 1  # fmt: skip
    assert value(samples, "printbridge_redis_up") == 1
    assert value(samples, "printbridge_database_up") == 1


def test_gelato_errors_are_counted_by_their_status_and_retries_by_job(
    client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    seed(gelato, "passed")
    gelato.post("/_sandbox/faults", {"endpoint": "cancel", "status": 503, "count": 1})

    body = encode(order_payload(ORDER_ID))
    assert send(client, body, **delivery_headers(body)) == 200
    drain(client.application)
    samples = scrape(client)

    assert value(samples, "printbridge_api_calls_total", service="gelato", method="POST",
                 result="503") == 1  # fmt: skip
    assert value(samples, "printbridge_jobs_total", job="run_action", result="retry") == 1
    assert value(samples, "printbridge_jobs_total", job="run_action", result="ok") == 1
    assert value(samples, "printbridge_actions_ended", outcome="cancelled") == 1


def test_refused_and_unsigned_deliveries_are_counted_with_a_bounded_topic(
    client: FlaskClient,
) -> None:
    body = encode(order_payload(ORDER_ID))
    unsigned = {**delivery_headers(body), "X-Shopify-Hmac-Sha256": "forged"}

    assert send(client, body, **unsigned) == 401
    assert send(client, body, **{**unsigned, "X-Shopify-Topic": "made/up-by-anyone"}) == 401
    assert send(client, b"[]", **delivery_headers(b"[]")) == 400
    assert send(client, b"{}", **delivery_headers(b"{}", topic="products/update")) == 200
    samples = scrape(client)

    deliveries = "printbridge_webhook_deliveries_total"
    assert value(samples, deliveries, topic="orders/cancelled", result="unauthorized") == 1
    assert value(samples, deliveries, topic="other", result="unauthorized") == 1
    assert value(samples, deliveries, topic="orders/cancelled", result="rejected") == 1
    assert value(samples, deliveries, topic="other", result="ignored_topic") == 1
    assert not [labels for name, labels in samples if ("topic", "made/up-by-anyone") in labels]


def test_deliveries_the_gate_refuses_are_counted_as_shed(make_app: Any) -> None:
    app = make_app(web=WebTier(max_inflight_webhooks=1, max_queued_webhooks=0))
    client = app.test_client()
    admission_of(app).enter()
    body = encode(order_payload(ORDER_ID))

    assert send(client, body, **delivery_headers(body, topic="orders/updated")) == 503
    assert send(client, body, **delivery_headers(body, prefix="Shopify-")) == 503
    samples = scrape(client)

    deliveries = "printbridge_webhook_deliveries_total"
    assert value(samples, deliveries, topic="orders/updated", result="shed") == 1
    assert value(samples, deliveries, topic="orders/cancelled", result="shed") == 1


def test_metrics_need_the_bearer_token_when_one_is_set(make_app: Any) -> None:
    client = make_app(metrics_token=METRICS_TOKEN).test_client()

    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert METRICS_TOKEN not in wrong.get_data(as_text=True)
    samples = scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")
    assert value(samples, "printbridge_redis_up") == 1


def test_metrics_are_open_without_a_token(client: FlaskClient) -> None:
    assert value(scrape(client), "printbridge_redis_up") == 1


def test_with_redis_down_metrics_still_answer_with_what_they_have(make_app: Any) -> None:
    client = make_app(redis_url="redis://127.0.0.1:9/0").test_client()
    body = encode(order_payload(ORDER_ID))
    assert send(client, body, **{**delivery_headers(body), "X-Shopify-Hmac-Sha256": "x"}) == 401

    samples = scrape(client)

    assert value(samples, "printbridge_redis_up") == 0
    assert value(samples, "printbridge_database_up") == 1
    assert not [name for name, _ in samples if name.startswith("printbridge_webhook_")]
