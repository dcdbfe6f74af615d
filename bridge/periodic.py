"""Periodic jobs, queued by every worker and run once: each time slot has one job id."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from bridge.adapters.queue import SWEEP, JobQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """A job (by its import path) to queue once in every slot of `every` seconds."""

    function: str
    name: str
    every: float


class PeriodicJobs(threading.Thread):
    """A daemon thread in each worker process that queues the periodic jobs when due."""

    def __init__(self, queue: JobQueue, every: float, also: Sequence[Schedule] = ()) -> None:
        """Queue the sweep every `every` seconds (BRIDGE_SWEEP_INTERVAL_SECONDS), and `also`."""
        super().__init__(name="printbridge-periodic", daemon=True)
        self._queue = queue
        self._schedules = (Schedule(SWEEP, "sweep", every), *also)
        # The slot each schedule was last queued for by this process: a job that already ran
        # (and left no trace in Redis) is not queued again in the same slot.
        self._queued: dict[str, int] = {}
        self._failing: set[str] = set()
        # Not `_stop`: threading.Thread has a method of that name, which a fork calls.
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            now = time.time()
            for schedule in self._schedules:
                slot = int(now // schedule.every)
                if self._queued.get(schedule.name) == slot:
                    continue
                try:
                    if self._queue.enqueue_periodic(schedule.function, schedule.name, slot):
                        log.info("queued the %s for slot %d", schedule.name, slot)
                    self._queued[schedule.name] = slot
                except redis.RedisError as error:
                    # Once per outage, not once per slot: a long one would fill the log.
                    if schedule.name not in self._failing:
                        log.warning(
                            "could not queue the %s: %s; trying again each period",
                            schedule.name,
                            type(error).__name__,
                        )
                    self._failing.add(schedule.name)
                    continue
                if schedule.name in self._failing:
                    self._failing.discard(schedule.name)
                    log.info("the %s is queued again", schedule.name)
            wait = min(s.every - time.time() % s.every for s in self._schedules)
            self._stopping.wait(wait + 0.01)

    def stop(self) -> None:
        """Stop at the next wake-up."""
        self._stopping.set()
