"""Leases on real Redis: order locks and running jobs outlive a slow holder, not a dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry, Worker
from rq.job import JobStatus

from bridge.adapters.locks import order_lock
from bridge.domain.errors import TransientError
from tests.conftest import SHOP

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2
WORKER = """
import sys
import redis
from rq import Queue
from bridge.adapters.leases import LeasedWorker

connection = redis.Redis.from_url(sys.argv[1])
queue = Queue(sys.argv[2], connection=connection)
LeasedWorker([queue], connection=connection, lease_seconds=int(sys.argv[3])).work(
    logging_level="WARNING"
)
"""
HOLDER = """
import sys, time
import redis
from bridge.adapters.locks import order_lock

connection = redis.Redis.from_url(sys.argv[1])
with order_lock(connection, sys.argv[2], sys.argv[3], ttl=1.0, renew_for=60):
    print("held", flush=True)
    time.sleep(60)
"""


def run_twice_hanging_first(counter: str) -> None:
    """A job that hangs on its first run and returns on the next; counts its runs."""
    connection = redis.Redis.from_url(os.environ["LEASE_TEST_REDIS_URL"])
    if connection.incr(counter) == 1:
        time.sleep(60)


@pytest.fixture
def connection(redis_url: str) -> Iterator[redis.Redis]:
    made = redis.Redis.from_url(redis_url)
    yield made
    made.close()


@pytest.fixture
def spawn(redis_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start Python processes running a script; each is killed at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "LEASE_TEST_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Wait until `condition` holds; the seconds it took. Fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not reached within {seconds}s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_order_lock_is_renewed_while_its_block_runs(connection: redis.Redis) -> None:
    with order_lock(connection, SHOP, "2001", ttl=0.3, renew_for=10):
        time.sleep(1.0)  # more than three leases
        with pytest.raises(TransientError), order_lock(connection, SHOP, "2001", ttl=30):
            pytest.fail("a second holder got a renewed lock")  # pragma: no cover

    with order_lock(connection, SHOP, "2001", ttl=30):
        pass


def test_order_lock_is_not_renewed_past_its_bound(connection: redis.Redis) -> None:
    with order_lock(connection, SHOP, "2002", ttl=0.3, renew_for=0.4):
        time.sleep(1.2)
        # A holder stuck past its bound lets the lock lapse: the order is free again.
        with order_lock(connection, SHOP, "2002", ttl=30):
            pass


def test_a_holder_confirms_its_lock_until_it_lapses_and_then_never_again(
    connection: redis.Redis,
) -> None:
    with order_lock(connection, SHOP, "2004", ttl=0.3, renew_for=0.4) as held:
        held.confirm()
        time.sleep(1.2)  # stalled past its bound: the lock lapsed
        with pytest.raises(TransientError) as lapsed:
            held.confirm()
        assert lapsed.value.reason == "action.lease_lost"
        # A successor holds the order now: the stalled holder must not act beside it.
        with order_lock(connection, SHOP, "2004", ttl=30) as successor:
            with pytest.raises(TransientError):
                held.confirm()
            successor.confirm()


def test_confirming_a_lock_renews_its_lease(connection: redis.Redis) -> None:
    with order_lock(connection, SHOP, "2005", ttl=0.5, renew_for=0.0) as held:
        for _ in range(4):
            time.sleep(0.3)  # past the lease in all, but confirmed before each lapse
            held.confirm()


def test_order_lock_of_a_killed_holder_lapses_within_one_lease(
    redis_url: str, connection: redis.Redis, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    holder = spawn(HOLDER, redis_url, SHOP, "2003")
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    time.sleep(2.5)  # the holder renews its one-second lease meanwhile
    with pytest.raises(TransientError), order_lock(connection, SHOP, "2003", ttl=30):
        pytest.fail("the lock lapsed while its holder was alive")  # pragma: no cover

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)

    def free() -> bool:
        try:
            with order_lock(connection, SHOP, "2003", ttl=30):
                return True
        except TransientError:
            return False

    assert wait_for(free, 5) <= 1.5


def test_job_of_a_killed_worker_runs_again_within_two_leases_and_not_before(
    redis_url: str, connection: redis.Redis, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    name = f"lease-test-{uuid.uuid4().hex[:8]}"
    counter = f"{name}:runs"
    queue = Queue(name, connection=connection)
    job = queue.enqueue(run_twice_hanging_first, counter, retry=Retry(max=3), job_timeout=120)
    spawn(WORKER, redis_url, name, str(LEASE))
    spawn(WORKER, redis_url, name, str(LEASE))
    wait_for(lambda: connection.get(counter) == b"1", 30)

    # The job runs on for several leases: its heartbeat is renewed, nobody takes it over.
    time.sleep(3 * LEASE)
    assert connection.get(counter) == b"1"

    (busy,) = [w for w in Worker.all(queue=queue) if w.get_current_job_id() == job.id]
    os.kill(busy.pid, signal.SIGKILL)

    took = wait_for(lambda: connection.get(counter) == b"2", 10 * LEASE)
    # Renewed every third of a lease: it lapses at most a lease after the kill, and a live
    # worker cleans once a lease; RQ keeps heartbeats in whole seconds; the machine is shared.
    assert took <= 2 * LEASE + 2, f"re-run {took:.1f}s after the kill"
    wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 10)
    job.refresh()
    assert job.retries_left == 2  # the re-run was one of the job's retries
