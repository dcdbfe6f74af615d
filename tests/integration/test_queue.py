"""The job queue, the per-order locks and the embedded Redis, on real Redis servers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from bridge.adapters import queue as queue_module
from bridge.adapters.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from bridge.adapters.locks import order_lock
from bridge.adapters.queue import QUEUE_NAME, REPORT_BACK, RUN_ACTION, JobQueue, report_job_id
from bridge.domain.errors import TransientError
from jobs import actions, report
from tests.conftest import SHOP

ACTION_ID = "0f3c2b6a9d8e4f1a8b7c6d5e4f3a2b1c"


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_url)
    yield made
    made.close()


@pytest.fixture
def queue(connection: redis.Redis) -> JobQueue:
    return JobQueue(connection, retries=3, job_timeout=60)


def test_action_job_id_is_the_action_id_and_its_only_argument(
    queue: JobQueue, connection: redis.Redis
) -> None:
    queue.enqueue_action(ACTION_ID)

    job = Job.fetch(ACTION_ID, connection=connection)
    assert (job.func_name, job.args, job.kwargs) == (RUN_ACTION, (ACTION_ID,), {})
    assert job.origin == QUEUE_NAME
    assert job.retries_left == 3
    assert job.timeout == 60
    # The dotted names resolve to the real job functions.
    assert (job.func, job.failure_callback) == (actions.run_action, actions.on_action_failure)
    assert queue.queue.job_ids == [ACTION_ID]


def test_report_job_id_is_the_action_id_with_a_suffix(
    queue: JobQueue, connection: redis.Redis
) -> None:
    queue.enqueue_report(ACTION_ID)

    assert report_job_id(ACTION_ID) == f"{ACTION_ID}-report"
    job = Job.fetch(f"{ACTION_ID}-report", connection=connection)
    assert (job.func_name, job.args, job.kwargs) == (REPORT_BACK, (ACTION_ID,), {})
    assert (job.func, job.failure_callback) == (report.report_back, report.on_report_failure)


def test_no_retries_configured_means_rq_retries_nothing(connection: redis.Redis) -> None:
    JobQueue(connection, retries=0, job_timeout=60).enqueue_action(ACTION_ID)

    assert not Job.fetch(ACTION_ID, connection=connection).retries_left


def test_is_queued_knows_enqueued_jobs_only(queue: JobQueue) -> None:
    assert not queue.is_queued(ACTION_ID)

    queue.enqueue_action(ACTION_ID)

    assert queue.is_queued(ACTION_ID)
    assert not queue.is_queued(report_job_id(ACTION_ID))


def test_enqueueing_an_action_already_queued_keeps_one_job(queue: JobQueue) -> None:
    queue.enqueue_action(ACTION_ID)
    queue.enqueue_action(ACTION_ID)

    assert queue.queue.job_ids == [ACTION_ID]


def run_to_its_end(queue: JobQueue, job_id: str, function: str, *args: object) -> None:
    """A job under `job_id` run by a real worker until it fails or finishes (result kept)."""
    queue.queue.enqueue_call(function, args=args, job_id=job_id, result_ttl=600)
    SimpleWorker([queue.queue], connection=queue.connection).work(burst=True, logging_level="ERROR")


def failed(queue: JobQueue, job_id: str) -> None:
    run_to_its_end(queue, job_id, "builtins.int", "not a number")


def started(queue: JobQueue, job_id: str) -> None:
    """Queue an action's job and take it as a worker does when it starts it."""
    queue.enqueue_action(job_id)
    taken = queue.queue.dequeue_any([queue.queue], None, connection=queue.connection)
    assert taken is not None
    assert taken[0].id == job_id
    with queue.connection.pipeline() as pipeline:
        taken[0].prepare_for_execution("a-worker", pipeline)
        pipeline.execute()


def test_waiting_or_running_reads_each_job_status(queue: JobQueue) -> None:
    failed(queue, "failed")
    run_to_its_end(queue, "finished", "builtins.len", "abc")
    queue.enqueue_action("canceled")
    Job.fetch("canceled", connection=queue.connection).cancel()
    started(queue, "running")
    queue.enqueue_action("queued")
    queue.queue.enqueue_in(timedelta(minutes=5), RUN_ACTION, "scheduled", job_id="scheduled")
    ids = ["failed", "finished", "canceled", "running", "queued", "scheduled", "missing"]

    live = queue.waiting_or_running(ids)

    assert [Job.fetch(i, connection=queue.connection).get_status() for i in ids[:6]] == [
        JobStatus.FAILED,
        JobStatus.FINISHED,
        JobStatus.CANCELED,
        JobStatus.STARTED,
        JobStatus.QUEUED,
        JobStatus.SCHEDULED,
    ]
    assert live == {"running", "queued", "scheduled"}
    assert queue.waiting_or_running([]) == set()
    assert [queue.is_queued(i) for i in ids] == [False, False, False, True, True, True, False]


def test_failed_job_is_replaced_by_a_new_one_under_its_id(queue: JobQueue) -> None:
    failed(queue, ACTION_ID)
    assert queue.queue.failed_job_registry.get_job_ids() == [ACTION_ID]
    queue.enqueue_action(ACTION_ID)  # a plain enqueue is blocked by the failed record
    assert queue.queue.job_ids == []

    assert queue.requeue_action(ACTION_ID)

    job = Job.fetch(ACTION_ID, connection=queue.connection)
    assert (job.func_name, job.args, job.retries_left) == (RUN_ACTION, (ACTION_ID,), 3)
    assert job.get_status() == JobStatus.QUEUED
    assert job.failure_callback == actions.on_action_failure
    assert queue.queue.job_ids == [ACTION_ID]
    assert queue.queue.failed_job_registry.get_job_ids() == []


def test_finished_report_back_is_replaced_and_a_missing_one_queued(queue: JobQueue) -> None:
    run_to_its_end(queue, report_job_id(ACTION_ID), "builtins.len", "abc")

    assert queue.requeue_report(ACTION_ID)
    assert queue.requeue_report("another-action")

    assert queue.queue.job_ids == [report_job_id(ACTION_ID), report_job_id("another-action")]
    job = Job.fetch(report_job_id(ACTION_ID), connection=queue.connection)
    assert (job.func_name, job.args) == (REPORT_BACK, (ACTION_ID,))
    assert queue.queue.finished_job_registry.get_job_ids() == []


def test_waiting_or_running_job_is_not_replaced(queue: JobQueue) -> None:
    started(queue, "running")
    queue.enqueue_action(ACTION_ID)

    assert not queue.requeue_action(ACTION_ID)
    assert not queue.requeue_action("running")

    assert queue.queue.job_ids == [ACTION_ID]
    assert Job.fetch("running", connection=queue.connection).get_status() == JobStatus.STARTED


def test_replacement_gives_way_to_a_change_made_after_the_status_was_read(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed(queue, ACTION_ID)
    fetch = queue_module._fetched

    def fetched_then_requeued_elsewhere(job_id: str, connection: redis.Redis) -> Job | None:
        job = fetch(job_id, connection)
        # Another sweep replaces the job between this one's status read and its write.
        monkeypatch.setattr(queue_module, "_fetched", fetch)
        assert JobQueue(connection, retries=1, job_timeout=60).requeue_action(job_id)
        return job

    monkeypatch.setattr(queue_module, "_fetched", fetched_then_requeued_elsewhere)

    assert not queue.requeue_action(ACTION_ID)

    assert queue.queue.job_ids == [ACTION_ID]
    assert Job.fetch(ACTION_ID, connection=queue.connection).retries_left == 1


def test_ping_answers_on_a_live_redis(queue: JobQueue) -> None:
    queue.ping()


def test_order_lock_excludes_a_second_holder(connection: redis.Redis) -> None:
    with order_lock(connection, SHOP, "1001", ttl=30):
        with pytest.raises(TransientError) as raised, order_lock(connection, SHOP, "1001", ttl=30):
            pytest.fail("a second holder got the lock")  # pragma: no cover

        assert raised.value.reason == "action.order_busy"
        assert raised.value.retry_after is not None
        with order_lock(connection, SHOP, "1002", ttl=30):
            pass  # another order is not blocked
        with order_lock(connection, "other.myshopify.com", "1001", ttl=30):
            pass  # nor the same order number in another shop


def test_order_lock_is_free_again_after_release(connection: redis.Redis) -> None:
    with order_lock(connection, SHOP, "1001", ttl=30):
        pass

    with order_lock(connection, SHOP, "1001", ttl=30):
        pass


def test_order_lock_is_released_when_the_block_raises(connection: redis.Redis) -> None:
    with pytest.raises(ValueError, match="boom"), order_lock(connection, SHOP, "1001", ttl=30):
        raise ValueError("boom")

    with order_lock(connection, SHOP, "1001", ttl=30):
        pass


def test_expired_lock_is_not_released_from_under_its_next_holder(
    connection: redis.Redis,
) -> None:
    with ExitStack() as later:
        with order_lock(connection, SHOP, "1001", ttl=0.1):
            time.sleep(0.25)
            later.enter_context(order_lock(connection, SHOP, "1001", ttl=30))

        with pytest.raises(TransientError), order_lock(connection, SHOP, "1001", ttl=30):
            pytest.fail("the lock was freed by its expired holder")  # pragma: no cover


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Path]:
    """An instance folder whose embedded Redis is always shut down after the test."""
    try:
        yield tmp_path
    finally:
        stop_embedded_redis(tmp_path)


def test_embedded_redis_starts_once_on_a_unix_socket_and_stops(instance: Path) -> None:
    url = ensure_embedded_redis(instance)

    assert url == f"unix://{instance / 'redis.sock'}"
    client = redis.Redis.from_url(url)
    assert client.ping()
    client.set("printbridge:probe", "1")
    pid_file = instance / "redis.pid"
    pid = int(pid_file.read_text())
    before = pid_file.stat().st_mtime_ns

    assert ensure_embedded_redis(instance) == url
    assert int(pid_file.read_text()) == pid
    assert pid_file.stat().st_mtime_ns == before
    assert client.get("printbridge:probe") == b"1"
    client.close()

    assert stop_embedded_redis(instance)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert not stop_embedded_redis(instance)
