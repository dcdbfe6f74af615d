"""The Procfile's web line and gunicorn.conf.py, as written, refuse webhooks past the gate fast."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests

from tests.conftest import SHOP
from tests.e2e.conftest import Deployment
from tests.e2e.test_processes import final_action, seed
from tests.support.webhooks import delivery_headers, encode, order_payload

pytestmark = pytest.mark.e2e
ORDERS = range(601, 611)


@pytest.fixture
def web_env() -> dict[str, str]:
    # One process, one webhook at a time and one waiting for at most 0.5 s: small enough to
    # fill on purpose with a stalled database.
    return {
        "WEB_CONCURRENCY": "1",
        "BRIDGE_MAX_INFLIGHT_WEBHOOKS": "1",
        "BRIDGE_MAX_QUEUED_WEBHOOKS": "1",
        "BRIDGE_ADMISSION_WAIT_SECONDS": "0.5",
    }


@contextmanager
def database_stalled(deployment: Deployment) -> Iterator[None]:
    """Hold the SQLite write lock: a webhook that records its delivery waits for it."""
    connection = sqlite3.connect(deployment.database, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def post_cancel(deployment: Deployment, order_id: int) -> tuple[int, float, str | None]:
    body = encode(order_payload(order_id))
    began = time.monotonic()
    response = requests.post(
        f"{deployment.url}/webhooks/shopify",
        data=body,
        headers=delivery_headers(body, webhook_id=f"shed-{order_id}"),
        timeout=30,
    )
    return response.status_code, time.monotonic() - began, response.headers.get("Retry-After")


def recorded(deployment: Deployment, order_id: int) -> bool:
    status = deployment.api(f"/api/orders/{SHOP}/{order_id}").status_code
    assert status in (200, 404)
    return status == 200


def test_webhooks_past_the_gate_get_a_fast_503_while_health_answers_and_a_retry_succeeds(
    deployment: Deployment,
) -> None:
    for order_id in ORDERS:
        seed(deployment, order_id, "passed")

    with ThreadPoolExecutor(len(ORDERS)) as pool:
        with database_stalled(deployment):
            # The first webhook takes the only slot and waits on the database lock.
            first = pool.submit(post_cancel, deployment, ORDERS[0])
            time.sleep(0.5)
            others = [pool.submit(post_cancel, deployment, order_id) for order_id in ORDERS[1:]]
            refused = [future.result() for future in others]
            ready = requests.get(f"{deployment.url}/readyz", timeout=5)
            alive = requests.get(f"{deployment.url}/healthz", timeout=5)
            assert not first.done()
        status, _, _ = first.result()

    assert status == 200
    assert [answer[0] for answer in refused] == [503] * len(refused)
    assert {answer[2] for answer in refused} == {"5"}
    # One waited its 0.5 s in the queue; the others found it full and were refused at once.
    assert max(answer[1] for answer in refused) < 2.0
    assert sorted(answer[1] for answer in refused)[len(refused) // 2] < 0.5
    assert (ready.status_code, alive.status_code) == (200, 200)
    assert recorded(deployment, ORDERS[0])
    assert not any(recorded(deployment, order_id) for order_id in ORDERS[1:])

    # The store delivers the refused webhooks again: accepted now, and every order is cancelled.
    assert [post_cancel(deployment, order_id)[0] for order_id in ORDERS[1:]] == [200] * 9
    for order_id in ORDERS:
        assert final_action(deployment, order_id)["outcome"] == "cancelled"
