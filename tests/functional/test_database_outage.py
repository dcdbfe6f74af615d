"""The database lost or unreachable: webhooks are answered 503 with Retry-After (the store
retries), never 500 and never 200; readiness says so at once; a job waits and runs again.

The app reaches PostgreSQL through a TCP proxy (tests/faults/db_proxy.py) that the test cuts:
open connections are closed as a server that dies would close them, and new ones are refused
(the server is down) or accepted and never answered (it hangs, or the network does).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.adapters.database import CONNECT_TIMEOUT_SECONDS
from bridge.app import services_of
from tests.conftest import SHOP, SUPPORT_TOKEN, TEST_DATABASE_URL
from tests.faults.db_proxy import DatabaseProxy, Mode
from tests.functional.conftest import Sandbox
from tests.support.synclog import order_deliveries, queued
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain, run_once

ORDER_ID = 5550001
# Under the store's 5 s deadline, with room for a loaded machine.
ANSWER_LIMIT = 4.5
CUTS = [Mode.REFUSE, Mode.BLACKHOLE]


@pytest.fixture
def app(make_app: Any, proxy: DatabaseProxy, postgres_url: str) -> Flask:
    # Retries wait a second or two: long enough to see one scheduled, short enough to drain.
    built: Flask = make_app(
        database_url=proxy.url(postgres_url), retry_base_seconds=1.0, retry_cap_seconds=1.0
    )
    return built


def post(client: FlaskClient, order_id: int = ORDER_ID) -> TestResponse:
    body = encode(order_payload(order_id))
    return client.post(
        "/webhooks/shopify", data=body, headers=delivery_headers(body, webhook_id=f"w-{order_id}")
    )


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def recorded(client: FlaskClient, order_id: int = ORDER_ID) -> list[dict[str, Any]]:
    return order_deliveries(client, order_id)


def assert_unavailable(answer: TestResponse, took: float) -> None:
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.get_data(as_text=True) == "storage.unavailable"
    assert took < ANSWER_LIMIT


@pytest.mark.parametrize("cut", CUTS, ids=lambda mode: mode.value)
def test_a_cut_database_answers_webhooks_503_in_time_and_the_retry_is_accepted(
    app: Flask, client: FlaskClient, proxy: DatabaseProxy, cut: Mode
) -> None:
    # A pooled connection is open when the database goes: the pool finds it dead and its
    # new one is refused or never answered.
    assert post(client, ORDER_ID - 1).status_code == 200
    proxy.cut(cut)

    answer, took = timed(lambda: post(client))

    assert_unavailable(answer, took)
    assert queued(app) == 1
    proxy.restore()
    assert post(client).status_code == 200
    assert queued(app) == 2
    assert [d["result"] for d in recorded(client)] == ["accepted"]


@pytest.mark.parametrize("cut", CUTS, ids=lambda mode: mode.value)
def test_a_connection_lost_in_the_middle_of_recording_answers_503_not_500(
    app: Flask, client: FlaskClient, proxy: DatabaseProxy, postgres_url: str, cut: Mode
) -> None:
    # Another client locks the table the delivery is recorded in, so the webhook's
    # transaction is open and waiting inside PostgreSQL when its connection is cut.
    schema = postgres_url.rsplit("search_path%3D", 1)[1]
    locker = sa.create_engine(TEST_DATABASE_URL)
    answers: list[tuple[TestResponse, float]] = []
    try:
        with locker.connect() as connection:
            connection.execute(
                sa.text(f'LOCK TABLE "{schema}".order_states IN ACCESS EXCLUSIVE MODE')
            )
            sender = threading.Thread(target=lambda: answers.append(timed(lambda: post(client))))
            sender.start()
            waiting_for_lock(connection, schema)
            proxy.cut(cut)
            sender.join(timeout=30)
            connection.rollback()
    finally:
        locker.dispose()

    [(answer, took)] = answers
    assert_unavailable(answer, took)
    assert queued(app) == 0
    proxy.restore()
    assert post(client).status_code == 200
    assert queued(app) == 1


def waiting_for_lock(connection: sa.Connection, schema: str) -> None:
    """Wait until a session of the app's waits for the lock held by `connection`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # The statistics views are read once per transaction unless told to read them again.
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        waiting = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE '%order_states%'"
                " AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"no webhook waited for the lock on {schema}.order_states")


@pytest.mark.parametrize("cut", CUTS, ids=lambda mode: mode.value)
def test_readiness_reports_a_cut_database_at_once(
    client: FlaskClient, proxy: DatabaseProxy, cut: Mode
) -> None:
    assert client.get("/readyz").status_code == 200
    proxy.cut(cut)

    answer, took = timed(lambda: client.get("/readyz"))

    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"database": "unreachable", "redis": "ok"}
    assert took < CONNECT_TIMEOUT_SECONDS + 2.0
    proxy.restore()
    assert client.get("/readyz").status_code == 200


def test_an_action_whose_job_finds_the_database_cut_waits_and_runs_again(
    app: Flask, client: FlaskClient, proxy: DatabaseProxy, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER_ID), "status": "passed"})
    assert post(client).status_code == 200
    proxy.cut(Mode.REFUSE)

    run_once(app)

    queue = services_of(app).queue.queue
    # Scheduled again with a delay, not failed: its retries are not spent back to back.
    assert (queue.count, queue.scheduled_job_registry.count) == (0, 1)
    assert queue.failed_job_registry.count == 0
    proxy.restore()
    drain(app)
    document = client.get(
        f"/api/orders/{SHOP}/{ORDER_ID}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    ).get_json()
    [action] = document["actions"]
    assert action["outcome"] == "cancelled"
    cancels = [
        call for call in gelato.get("/_sandbox/requests") if call["path"].endswith(":cancel")
    ]
    assert len(cancels) == 1
