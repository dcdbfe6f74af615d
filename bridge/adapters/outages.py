"""Riding out a Redis outage: a worker waits for its Redis to answer again instead of exiting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.worker import WorkerStatus

log = logging.getLogger(__name__)

# What a Redis that is down, restarting or unreachable raises.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# How long the worker's command-channel thread waits per read (RQ's: 60 s). A worker stopping
# unsubscribes first, then stops the thread and waits for it (redis-py 8 waits without limit):
# a thread that saw the unsubscribe before the stop sat out the whole wait, so a worker's
# shutdown could take a minute. Now it takes a second at most.
PUBSUB_WAIT_SECONDS = 1.0


class RedisOutage:
    """Waits until Redis answers PING again: one warning when an outage starts, one line when
    it ends, and a growing pause between tries (from `first` to `longest` seconds)."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        first: float = 0.25,
        longest: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.connection = connection
        self.first = first
        self.longest = longest
        self.sleep = sleep
        self.stopping = stopping
        self.outages = 0

    def wait(self, error: BaseException, doing: str) -> bool:
        """Wait until Redis answers; False if `stopping()` became true first."""
        self.outages += 1
        started = time.monotonic()
        log.warning(
            "Redis unreachable while %s (%s): waiting for it to answer again",
            doing,
            type(error).__name__,
        )
        pause = self.first
        while not self.stopping():
            self.sleep(pause)
            try:
                self.connection.ping()
            except REDIS_DOWN:
                pause = min(pause * 2, self.longest)
                continue
            log.warning("Redis answers again after %.1fs; resuming", time.monotonic() - started)
            return True
        return False


class OutageTolerantScheduler(RQScheduler):
    """RQ's scheduler process, which ends quietly when Redis goes away.

    RQ's ends with a traceback; either way the worker that started it starts it again once
    Redis answers (RQ's maintenance restarts a scheduler whose process is gone).
    """

    def work(self) -> None:
        try:
            super().work()  # type: ignore[no-untyped-call]
        except REDIS_DOWN as error:
            log.warning("scheduler stopped, Redis unreachable: %s", type(error).__name__)


class OutageTolerantWorker(SimpleWorker):
    """An RQ worker that outlives its Redis going away.

    RQ's own loop retries only the wait for a job; a Redis error anywhere else (the job's
    bookkeeping before and after it runs, a heartbeat, cleaning the registries) ends the
    worker. Here each of those waits for Redis and carries on. A job whose bookkeeping was cut
    off is not finished again by this worker: if Redis kept its data, the job's lease lapses
    and it runs again; if Redis came back empty, the sweep finds its action in the sync log.
    """

    def __init__(self, queues: Any, **kwargs: Any) -> None:
        # RQ's constructor talks to Redis: one started while Redis is down waits for it.
        connection: redis.Redis = kwargs["connection"]
        starting = RedisOutage(connection)
        while True:
            try:
                connection.ping()
                break
            except REDIS_DOWN as error:
                starting.wait(error, "starting")
        super().__init__(queues, **kwargs)
        self.outage = RedisOutage(self.connection, stopping=lambda: self._stop_requested)

    def _ride_out(self, error: BaseException, doing: str) -> None:
        if not self.outage.wait(error, doing):
            raise StopRequested
        self._register_again()

    def _register_again(self) -> None:
        """Register this worker again if Redis came back without it (restarted empty)."""
        try:
            if not self.connection.exists(self.key):
                self.register_birth()  # type: ignore[no-untyped-call]
                log.info("worker %s registered again", self.name)
        except REDIS_DOWN as error:
            log.info("worker %s not registered again yet: %s", self.name, type(error).__name__)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's, with the scheduler above: take the scheduling lock if free, and run it."""
        # Any: RQ's scheduler methods are untyped.
        scheduler: Any = OutageTolerantScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler = scheduler
        scheduler.acquire_locks()
        if not scheduler.acquired_locks:
            return
        if not burst:
            scheduler.start()
            return
        try:
            scheduler.register_birth()
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()
            scheduler.register_death()

    def subscribe(self) -> None:
        """RQ's, with a command-channel thread that notices within a second that it must stop."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ declares the thread as None (its type until subscribed) and leaves it unannotated.
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_WAIT_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, thread: Any) -> None:
        """RQ's, without an error line every two seconds while Redis is down."""
        if not isinstance(exc, redis.exceptions.ConnectionError):
            raise exc
        log.debug("worker %s: command channel lost Redis: %s", self.name, type(exc).__name__)
        time.sleep(2.0)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        while True:
            try:
                super().heartbeat(timeout)
                return
            except REDIS_DOWN as error:
                self._ride_out(error, "sending its heartbeat")

    def check_for_suspension(self, burst: bool) -> None:
        while True:
            try:
                super().check_for_suspension(burst)
                return
            except REDIS_DOWN as error:
                self._ride_out(error, "checking for suspension")

    def run_maintenance_tasks(self) -> None:
        # Not retried here: it is still due, so the loop runs it again next time round.
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except REDIS_DOWN as error:
            self._ride_out(error, "cleaning the registries")

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as error:
            self._ride_out(error, f"running job {job.id}")
            try:
                self.set_state(WorkerStatus.IDLE)
            except REDIS_DOWN:
                self._state = WorkerStatus.IDLE

    def teardown(self) -> None:
        try:
            super().teardown()  # type: ignore[no-untyped-call]
        except REDIS_DOWN as error:
            # Stopping while Redis is down: its record there expires on its own.
            log.warning("worker %s stopped without Redis: %s", self.name, type(error).__name__)
