"""Leases: what a running job holds in Redis is renewed while it runs and lapses when it dies."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import clean_registries
from rq.utils import now
from rq.worker_registration import clean_worker_registry

from bridge.adapters.outages import OutageTolerantWorker

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Raised by a renewal when what it renews belongs to someone else now: stop renewing."""


@contextmanager
def renewing(renew: Callable[[], None], every: float, longest: float, name: str) -> Iterator[None]:
    """Call `renew` every `every` seconds from a thread while the block runs.

    Renewal stops after `longest` seconds: a block stuck past that bound lets its lease
    lapse, so that the work can be taken over instead of being held forever by a process
    that no longer makes progress. A Redis error skips one renewal (the next may get
    through before the lease lapses); LeaseLost ends the renewals.
    """
    stop = threading.Event()
    deadline = time.monotonic() + longest

    def run() -> None:
        while not stop.wait(every) and time.monotonic() < deadline:
            try:
                renew()
            except LeaseLost as lost:
                log.error("%s: lease lost, no longer renewed: %s", name, lost)
                return
            except redis.RedisError as error:
                log.warning("%s: lease not renewed this time: %s", name, type(error).__name__)

    thread = threading.Thread(target=run, name=f"lease {name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class LeasedWorker(OutageTolerantWorker):
    """An RQ worker whose running job holds a short lease, so a dead worker's job runs again soon.

    RQ counts a job as abandoned once its execution's heartbeat is older than its TTL, and
    retries it (or fails it, calling its failure callback) when a worker next cleans the
    registries. A SimpleWorker sends no heartbeat while a job runs, so RQ sets that TTL to the
    whole job timeout plus a minute, and cleans every ten minutes: a killed worker's job would
    wait up to a quarter of an hour. Here the heartbeat is renewed from a thread every third
    of the lease and lasts one lease, and every worker cleans once a lease, so the job of a
    worker that died runs again within about two leases. RQ's job timeout still bounds a job
    that hangs.
    """

    def __init__(self, *args: Any, lease_seconds: int, **kwargs: Any) -> None:
        # Set first: RQ's constructor sizes the connection's socket timeout from dequeue_timeout.
        self.lease_seconds = max(1, int(lease_seconds))
        kwargs.setdefault("maintenance_interval", self.lease_seconds)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        """An idle worker wakes once a lease, to clean the registries if it is time to."""
        return self.lease_seconds

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long a running job's heartbeat lasts: one lease."""
        return self.lease_seconds

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        def renew() -> None:
            self.maintain_heartbeats(job, execution)

        # Past its timeout (plus a lease for RQ to record the failure) the job should be over:
        # a process still in it is stuck, and its lease may lapse.
        longest = (job.timeout or queue.DEFAULT_TIMEOUT) + self.lease_seconds
        with renewing(renew, self.lease_seconds / 3, longest, f"job {job.id}"):
            performed: bool = super().perform_job(job, queue, execution)
            return performed

    def clean_registries(self) -> None:
        """Find jobs whose lease lapsed and retry or fail them, one worker at a time.

        RQ's own cleaning lock lasts fifteen minutes: a worker killed while cleaning would
        keep every other from finding dead workers' jobs for that long. This one lasts a lease.
        """
        for queue in self.queues:
            if queue.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=self.lease_seconds):
                self.log.debug("Worker %s: cleaning registries of %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                queue.connection.delete(queue.registry_cleaning_key)
        # RQ declares the attribute None-typed, though it keeps a datetime there itself.
        self.last_cleaned_at = now()  # type: ignore[assignment]
