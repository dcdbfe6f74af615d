"""Periodic jobs, queued by every worker and run once: each time slot has one job id."""

from __future__ import annotations

import logging
import threading
import time

import redis

from bridge.adapters.queue import SWEEP, JobQueue

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 60


class PeriodicJobs(threading.Thread):
    """A daemon thread in each worker process that queues the periodic jobs when due."""

    def __init__(self, queue: JobQueue, every: float = SWEEP_EVERY_SECONDS) -> None:
        super().__init__(name="printbridge-periodic", daemon=True)
        self._queue = queue
        self._every = every
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            slot = int(time.time() // self._every)
            try:
                if self._queue.enqueue_periodic(SWEEP, "sweep", slot):
                    log.info("queued the sweep for slot %d", slot)
            except redis.RedisError as error:
                log.warning("could not queue the sweep: %s", type(error).__name__)
            self._stop.wait(self._every - time.time() % self._every + 0.01)

    def stop(self) -> None:
        """Stop at the next wake-up."""
        self._stop.set()
