"""Metrics on a real Redis: each process's tally is added up, across processes and failures."""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings

import pytest
import redis

from bridge.adapters.metrics import Metrics, cumulative_buckets
from bridge.metrics import DELIVERIES, JOB_DURATION, count_delivery, count_job

SERIES = (DELIVERIES.name, (("result", "accepted"), ("topic", "orders/cancelled")))
JOB = (JOB_DURATION.name, (("job", "run_action"),))


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def test_counters_and_histogram_buckets_are_kept_in_redis(redis_url: str) -> None:
    metrics = Metrics(connect(redis_url))
    for _ in range(3):
        count_delivery(metrics, "orders/cancelled", "accepted")
    for seconds in (0.004, 0.01, 0.3, 500.0):
        count_job(metrics, "run_action", "ok", seconds, waited=0.0)

    assert metrics.flush()
    snapshot = metrics.snapshot()

    assert snapshot.counters[SERIES] == 3
    totals = snapshot.histograms[JOB]
    assert totals.count == 4
    assert totals.total == pytest.approx(500.314)
    buckets = dict(cumulative_buckets(totals, JOB_DURATION.bounds))
    # A value equal to a bound is in that bound's bucket (le: less than or equal).
    assert (buckets["0.01"], buckets["0.25"], buckets["0.5"], buckets["180.0"]) == (2, 2, 3, 3)
    assert buckets["+Inf"] == 4


def test_nothing_counted_means_no_round_trip(redis_url: str) -> None:
    metrics = Metrics(redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1))

    assert metrics.flush()


def test_a_flush_that_fails_keeps_the_tally_for_the_next(redis_url: str) -> None:
    metrics = Metrics(redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1))
    count_delivery(metrics, "orders/cancelled", "accepted")
    count_job(metrics, "run_action", "ok", 0.2, waited=0.1)

    assert not metrics.flush()
    count_delivery(metrics, "orders/cancelled", "accepted")
    metrics.connection = connect(redis_url)
    assert metrics.flush()

    snapshot = metrics.snapshot()
    assert snapshot.counters[SERIES] == 2
    assert snapshot.histograms[JOB].count == 1


def _count_in_a_process(url: str, deliveries: int) -> None:
    # Its own Metrics, flushed by its own thread every 50 ms, and closed (flushed) at the end.
    metrics = Metrics(connect(url), flush_seconds=0.05)
    for number in range(deliveries):
        count_delivery(metrics, "orders/cancelled", "accepted")
        count_job(metrics, "run_action", "ok", 0.02, waited=0.01)
        if number % 50 == 0:
            time.sleep(0.06)
    metrics.close()


def test_processes_counting_at_once_add_up_in_redis(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_count_in_a_process, args=(redis_url, 200)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    snapshot = Metrics(connect(redis_url)).snapshot()

    assert snapshot.counters[SERIES] == 600
    assert snapshot.histograms[JOB].count == 600
    assert snapshot.histograms[JOB].buckets == {"0.025": 600}


def test_the_flushing_thread_sends_the_tally_without_being_asked(redis_url: str) -> None:
    metrics = Metrics(connect(redis_url), flush_seconds=0.05)
    reader = Metrics(connect(redis_url))
    count_delivery(metrics, "orders/cancelled", "accepted")

    deadline = time.monotonic() + 10
    while SERIES not in reader.snapshot().counters:
        assert time.monotonic() < deadline, "the tally never reached Redis"
        time.sleep(0.02)
    metrics.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_never_sends_its_parents_tally_again(redis_url: str) -> None:
    metrics = Metrics(connect(redis_url))
    count_delivery(metrics, "orders/cancelled", "accepted")

    with warnings.catch_warnings():
        # Python 3.12+ warns of fork in a process with threads (the test session has some).
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child's own run
        metrics.connection = connect(redis_url)
        count_delivery(metrics, "orders/cancelled", "accepted")
        os._exit(0 if metrics.flush() else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert metrics.flush()

    assert metrics.snapshot().counters[SERIES] == 2
