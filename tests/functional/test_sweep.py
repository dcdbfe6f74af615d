"""The sweep: work recorded in the sync log whose job the queue lost is queued again."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job, JobStatus

from bridge.adapters import stalled
from bridge.adapters.queue import report_job_id
from bridge.app import services_of
from bridge.periodic import PeriodicJobs
from bridge.services import utc_now
from bridge.sweep import sweep
from bridge.worker import make_worker
from tests.conftest import SHOP, SUPPORT_TOKEN
from tests.faults.db_proxy import DatabaseProxy, Mode
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

ORDER = 7770001


def cancel(client: FlaskClient) -> None:
    body = encode(order_payload(ORDER))
    assert (
        client.post("/webhooks/shopify", data=body, headers=delivery_headers(body)).status_code
        == 200
    )


def action(client: FlaskClient) -> dict[str, Any]:
    document = client.get(
        f"/api/orders/{SHOP}/{ORDER}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    ).get_json()
    found: dict[str, Any] = document["actions"][0]
    return found


def lose_the_queue(app: Flask) -> None:
    """Redis restarted without its data: every job and queue is gone."""
    services_of(app).redis.flushdb()


def later(app: Flask, minutes: float) -> None:
    services_of(app).clock = lambda: utc_now() + timedelta(minutes=minutes)


def test_action_whose_job_was_lost_is_queued_again_and_ends(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    lose_the_queue(app)
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert result.output.strip() == "queued 1 action(s), 0 report-back(s)"
    assert action(client)["outcome"] == "cancelled", action(client)["message"]


def test_fresh_work_is_left_to_its_job(app: Flask, client: FlaskClient) -> None:
    cancel(client)

    result = app.test_cli_runner().invoke(args=["sweep"])

    assert result.output.strip() == "queued 0 action(s), 0 report-back(s)"
    assert services_of(app).queue.queue.count == 1


def test_work_is_swept_once_idle_for_the_grace_setting(make_app: Any) -> None:
    app = make_app(sweep_grace_seconds=30.0)
    cancel(app.test_client())
    lose_the_queue(app)

    later(app, 0.25)
    early = app.test_cli_runner().invoke(args=["sweep"])
    later(app, 0.75)
    late = app.test_cli_runner().invoke(args=["sweep"])

    assert early.output.strip() == "queued 0 action(s), 0 report-back(s)"
    assert late.output.strip() == "queued 1 action(s), 0 report-back(s)"


def test_delivery_recorded_while_redis_was_down_and_never_retried_is_swept_and_ends(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    body = encode(order_payload(ORDER))
    queue = services_of(app).queue.queue
    working = queue.connection.connection_pool
    queue.connection.connection_pool = type(working)(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2
    )
    try:
        answer = client.post("/webhooks/shopify", data=body, headers=delivery_headers(body))
    finally:
        queue.connection.connection_pool = working
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert answer.status_code == 503
    assert result.output.strip() == "queued 1 action(s), 0 report-back(s)"
    assert action(client)["outcome"] == "cancelled"


def test_lost_work_behind_a_page_of_queued_work_is_found(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stalled, "PAGE", 2)
    for order in range(ORDER, ORDER + 5):
        body = encode(order_payload(order))
        client.post("/webhooks/shopify", data=body, headers=delivery_headers(body))
    services = services_of(app)
    oldest_first = list(stalled.unfinished_actions(services.storage.engine, utc_now()))
    lose_the_queue(app)
    # The three oldest are queued again (a backlog); the two newest are lost.
    for action_id in oldest_first[:3]:
        services.queue.enqueue_action(action_id)
    later(app, 10)

    swept = sweep(services)

    assert len(oldest_first) == 5
    assert sorted(swept.actions) == sorted(oldest_first[3:])


def test_queued_action_is_not_queued_twice(app: Flask, client: FlaskClient) -> None:
    cancel(client)
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])

    assert result.output.strip() == "queued 0 action(s), 0 report-back(s)"
    assert services_of(app).queue.queue.count == 1


def test_lost_report_back_is_queued_again(
    app: Flask, client: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    services = services_of(app)
    # Run the action only; its report-back job is then lost with the queue.
    run_action_job_only(app)
    assert services.queue.is_queued(report_job_id(action(client)["id"]))
    lose_the_queue(app)
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert result.output.strip() == "queued 0 action(s), 1 report-back(s)"
    assert action(client)["report"]["state"] == "done"
    assert "gelato:cancelled" in store.get(f"/_sandbox/orders/{SHOP}/{ORDER}")["tags"]


def run_action_job_only(app: Flask) -> None:
    make_worker(app).work(burst=True, max_jobs=1, logging_level="WARNING")


def test_periodic_sweep_is_queued_once_per_slot_by_any_number_of_workers(app: Flask) -> None:
    queue = services_of(app).queue
    workers = [PeriodicJobs(queue, every=0.5), PeriodicJobs(queue, every=0.5)]
    for worker in workers:
        worker.start()
    time.sleep(1.2)
    for worker in workers:
        worker.stop()

    sweeps = [job_id for job_id in queue.queue.job_ids if job_id.startswith("sweep-")]
    assert 2 <= len(sweeps) <= 4
    assert len(sweeps) == len(set(sweeps))


# Work whose job is over while the sync log says it is not: the database was down for longer
# than all of the job's retries, so its failure callback could not record the failure either.


@pytest.fixture
def outage_app(make_app: Any, proxy: DatabaseProxy, postgres_url: str) -> Flask:
    """An app on PostgreSQL behind a proxy, whose jobs spend their one retry within seconds."""
    built: Flask = make_app(
        database_url=proxy.url(postgres_url),
        retry_max=1,
        retry_base_seconds=1.0,
        retry_cap_seconds=1.0,
    )
    return built


def cancels_sent(gelato: Sandbox) -> int:
    return sum(call["path"].endswith(":cancel") for call in gelato.get("/_sandbox/requests"))


def status_of(app: Flask, job_id: str) -> JobStatus | None:
    connection = services_of(app).redis
    if not Job.exists(job_id, connection=connection):
        return None
    return Job.fetch(job_id, connection=connection).get_status()


def test_action_whose_job_failed_while_the_database_was_down_is_queued_again_and_ends(
    outage_app: Flask, proxy: DatabaseProxy, gelato: Sandbox
) -> None:
    app, client = outage_app, outage_app.test_client()
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    action_id = action(client)["id"]
    proxy.cut(Mode.REFUSE)
    drain(app)
    failed = status_of(app, action_id)
    proxy.restore()
    assert action(client)["outcome"] is None
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert failed == JobStatus.FAILED
    assert result.output.strip() == "queued 1 action(s), 0 report-back(s)"
    assert action(client)["outcome"] == "cancelled", action(client)["message"]
    assert cancels_sent(gelato) == 1
    assert services_of(app).queue.queue.failed_job_registry.count == 0


def test_report_back_whose_job_failed_while_the_database_was_down_is_queued_again(
    outage_app: Flask, proxy: DatabaseProxy, gelato: Sandbox, store: Sandbox
) -> None:
    app, client = outage_app, outage_app.test_client()
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    run_action_job_only(app)
    action_id = action(client)["id"]
    proxy.cut(Mode.REFUSE)
    drain(app)
    failed = status_of(app, report_job_id(action_id))
    proxy.restore()
    assert action(client)["report"]["state"] == "pending"
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert failed == JobStatus.FAILED
    assert result.output.strip() == "queued 0 action(s), 1 report-back(s)"
    assert action(client)["report"]["state"] == "done"
    assert "gelato:cancelled" in store.get(f"/_sandbox/orders/{SHOP}/{ORDER}")["tags"]
    assert cancels_sent(gelato) == 1


def test_action_whose_job_is_running_is_left_to_it(
    make_app: Any, app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    # The sweep runs in another process (another app on the same database and Redis) while
    # a worker is in the middle of the action's job, slowed down by Gelato.
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    action_id = action(client)["id"]
    gelato.post("/_sandbox/latency", {"seconds": 2.0})
    sweeper = make_app()
    later(sweeper, 10)
    swept: list[Any] = []

    def sweep_while_running() -> None:
        deadline = time.monotonic() + 30
        while status_of(sweeper, action_id) != JobStatus.STARTED:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        swept.append(sweep(services_of(sweeper)))
        swept.append(status_of(sweeper, action_id))

    thread = threading.Thread(target=sweep_while_running)
    thread.start()
    try:
        run_action_job_only(app)
    finally:
        thread.join(timeout=60)
    gelato.post("/_sandbox/latency", {"seconds": 0})
    drain(app)

    [result, status] = swept
    assert (result.actions, result.reports) == ([], [])
    assert status == JobStatus.STARTED
    assert action(client)["outcome"] == "cancelled"
    assert cancels_sent(gelato) == 1


@pytest.mark.parametrize("over", [JobStatus.FINISHED, JobStatus.CANCELED])
def test_action_whose_job_is_over_but_unfinished_is_queued_again_and_ends(
    app: Flask, client: FlaskClient, gelato: Sandbox, over: JobStatus
) -> None:
    # printbridge's own jobs record the outcome before RQ marks them finished, and keep no
    # finished record; a job record left finished or canceled (from a dashboard, say) must
    # not keep the action from running all the same.
    gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": "passed"})
    cancel(client)
    action_id = action(client)["id"]
    job = Job.fetch(action_id, connection=services_of(app).redis)
    if over is JobStatus.CANCELED:
        job.cancel()
    else:
        services_of(app).queue.queue.remove(job)
        job.set_status(JobStatus.FINISHED)
    later(app, 10)

    result = app.test_cli_runner().invoke(args=["sweep"])
    drain(app)

    assert result.output.strip() == "queued 1 action(s), 0 report-back(s)"
    assert action(client)["outcome"] == "cancelled"
    assert cancels_sent(gelato) == 1
