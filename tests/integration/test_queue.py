"""The job queue, the per-order locks and the embedded Redis, on real Redis servers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from rq.job import Job

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


def test_counters_count_by_name(queue: JobQueue) -> None:
    assert queue.counters() == {}

    queue.count("webhook.unauthorized")
    queue.count("webhook.unauthorized")
    queue.count("topic.ignored")

    assert queue.counters() == {"webhook.unauthorized": 2, "topic.ignored": 1}


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
