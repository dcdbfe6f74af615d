"""A worker's command channel on a real Redis: stopping it never waits long."""

from __future__ import annotations

import time

import redis
from rq import Queue

from bridge.adapters.outages import OutageTolerantWorker
from bridge.adapters.queue import QUEUE_NAME

# A platform stopping a worker gives it seconds (Heroku: 30) before it kills it.
STOPS_WITHIN_SECONDS = 3.0


def test_a_worker_whose_channel_thread_saw_the_unsubscribe_first_stops_within_its_wait(
    redis_url: str,
) -> None:
    connection = redis.Redis.from_url(redis_url)
    worker = OutageTolerantWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    worker.subscribe()
    pubsub = worker.pubsub
    assert pubsub is not None
    deadline = time.monotonic() + 10
    while not pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    # The race that made a shutdown wait a minute: the thread reads the unsubscribe before the
    # worker tells it to stop, and then waits for a subscription that never comes.
    pubsub.unsubscribe()
    while pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)

    started = time.monotonic()
    worker.unsubscribe()
    took = time.monotonic() - started
    connection.close()

    assert worker.pubsub_thread is not None
    assert not worker.pubsub_thread.is_alive()
    assert took < STOPS_WITHIN_SECONDS
