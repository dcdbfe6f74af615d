"""The webhook receiver behind its admission gate: refused past it, admitted when it frees."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bridge.app import admission_of, services_of
from bridge.config import WebTier
from tests.conftest import SHOP, SUPPORT_TOKEN
from tests.support.webhooks import delivery_headers, encode, order_payload
from webhooks.admission import RETRY_AFTER_SECONDS

ORDER_ID = 820982911946154508


def post(client: FlaskClient, order_id: int = ORDER_ID) -> Any:
    body = encode(order_payload(order_id))
    return client.post(
        "/webhooks/shopify",
        data=body,
        headers=delivery_headers(body, webhook_id=f"delivery-{order_id}"),
    )


def recorded(client: FlaskClient, order_id: int = ORDER_ID) -> int:
    response = client.get(
        f"/api/orders/{SHOP}/{order_id}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    )
    if response.status_code == 404:
        return 0
    return len(response.get_json()["deliveries"])


def queued(app: Flask) -> int:
    return services_of(app).queue.queue.count


def gated_app(make_app: Any, queued: int, wait: float) -> Flask:
    web = WebTier(max_inflight_webhooks=1, max_queued_webhooks=queued, admission_wait_seconds=wait)
    app: Flask = make_app(web=web)
    return app


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_a_full_gate_answers_503_with_retry_after_and_records_nothing(make_app: Any) -> None:
    app = gated_app(make_app, queued=0, wait=0)
    client = app.test_client()
    gate = admission_of(app)
    gate.enter()

    began = time.monotonic()
    response = post(client)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert time.monotonic() - began < 0.5
    assert recorded(client) == 0
    assert queued(app) == 0
    assert gate.counts.queue_full == 1


def test_health_readiness_and_the_api_answer_while_the_gate_is_full(make_app: Any) -> None:
    app = gated_app(make_app, queued=0, wait=0)
    client = app.test_client()
    admission_of(app).enter()

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert recorded(client) == 0


def test_the_store_retry_of_a_refused_delivery_is_accepted_once_the_gate_frees(
    make_app: Any,
) -> None:
    app = gated_app(make_app, queued=0, wait=0)
    client = app.test_client()
    gate = admission_of(app)
    gate.enter()
    assert post(client).status_code == 503

    gate.leave()
    answer = post(client)

    assert answer.status_code == 200
    assert recorded(client) == 1
    assert queued(app) == 1
    assert gate.running == 0


def test_a_queued_webhook_is_admitted_when_the_slot_frees_and_a_newcomer_finds_the_queue_full(
    make_app: Any,
) -> None:
    app = gated_app(make_app, queued=1, wait=10)
    gate = admission_of(app)
    gate.enter()
    answers: list[int] = []
    waiting = threading.Thread(target=lambda: answers.append(post(app.test_client()).status_code))
    waiting.start()
    eventually(lambda: gate.waiting == 1)

    newcomer = post(app.test_client(), order_id=ORDER_ID + 1)
    gate.leave()
    waiting.join(timeout=10)

    assert newcomer.status_code == 503
    assert answers == [200]
    client = app.test_client()
    assert recorded(client) == 1
    assert recorded(client, ORDER_ID + 1) == 0


def test_a_queued_webhook_is_refused_after_the_wait_bound_and_records_nothing(
    make_app: Any,
) -> None:
    app = gated_app(make_app, queued=1, wait=0.3)
    client = app.test_client()
    gate = admission_of(app)
    gate.enter()

    began = time.monotonic()
    response = post(client)
    waited = time.monotonic() - began

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert 0.25 < waited < 2.0
    assert gate.counts.waited_too_long == 1
    assert recorded(client) == 0
    assert queued(app) == 0
