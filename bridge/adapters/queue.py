"""The job queue on Redis (RQ): actions, report-backs and the shop-level jobs."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from contextlib import suppress

import redis
from rq import Queue, Retry
from rq.callbacks import Callback
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)

QUEUE_NAME = "printbridge"
RUN_ACTION = "jobs.actions.run_action"
ACTION_FAILED = "jobs.actions.on_action_failure"
REPORT_BACK = "jobs.report.report_back"
REPORT_FAILED = "jobs.report.on_report_failure"
SWEEP = "jobs.sweep.sweep"
SUBSCRIPTIONS_CHECK = "jobs.subscriptions.check_shop"
SUBSCRIPTIONS_CHECK_ALL = "jobs.subscriptions.check_all"
CUSTOMER_REDACT = "jobs.compliance.redact_customer"
SHOP_REDACT = "jobs.compliance.erase_shop"
COMPLIANCE_FAILED = "jobs.compliance.on_compliance_failure"
# A shop-level job that failed waits longer each time: the store or the database needs time.
TASK_RETRY_INTERVALS = [5, 30, 120, 600]
# A job in one of these states will not run again by itself; any other state (queued, scheduled,
# started, ...) means it still will, or is running now.
OVER = frozenset(
    status.value
    for status in (JobStatus.FAILED, JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.CANCELED)
)


def report_job_id(action_id: str) -> str:
    """The job id of an action's report-back."""
    return f"{action_id}-report"


class JobQueue:
    """Enqueues printbridge's jobs; job ids are action ids, arguments are ids only."""

    def __init__(self, connection: redis.Redis, *, retries: int, job_timeout: int) -> None:
        self.connection = connection
        self.queue = Queue(QUEUE_NAME, connection=connection)
        self._retries = retries
        self._job_timeout = job_timeout

    def enqueue_action(self, action_id: str) -> None:
        """Queue the job that runs an action, unless Redis holds a job with its id."""
        self._enqueue(RUN_ACTION, ACTION_FAILED, action_id, action_id)

    def enqueue_new_action(self, action_id: str) -> None:
        """Queue the job of an action created just now, which cannot have a job yet.

        This skips the uniqueness check (a script call and a round trip to Redis) on the
        webhook path, where every new action is enqueued.
        """
        self._enqueue_new(RUN_ACTION, ACTION_FAILED, action_id, action_id, unique=False)

    def enqueue_report(self, action_id: str) -> None:
        """Queue the job that writes an action's outcome onto the store order."""
        self._enqueue(REPORT_BACK, REPORT_FAILED, report_job_id(action_id), action_id)

    def requeue_action(self, action_id: str) -> bool:
        """Queue an action's job again unless it is waiting or running; True if queued."""
        return self._replace(RUN_ACTION, ACTION_FAILED, action_id, action_id)

    def requeue_report(self, action_id: str) -> bool:
        """Queue an action's report-back again unless it is waiting or running; True if queued."""
        return self._replace(REPORT_BACK, REPORT_FAILED, report_job_id(action_id), action_id)

    def _replace(self, function: str, on_failure: str, job_id: str, action_id: str) -> bool:
        """Put a new job in place of a missing one or one that is over (failed, finished, ...).

        A failed job keeps its id for `failure_ttl`, which would block a plain enqueue for days.
        The job's record is watched from the status read to the new job's write: a worker or
        another sweep touching it in between makes this one give way.
        """
        key = Job.key_for(job_id)
        with self.connection.pipeline() as pipeline:
            try:
                pipeline.watch(key)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                status = pipeline.hget(key, "status")
                if status is not None and _text(status) not in OVER:
                    return False
                old = _fetched(job_id, self.connection) if status is not None else None
                pipeline.multi()
                if old is not None:
                    old.delete(pipeline=pipeline)
                self._enqueue_call(function, on_failure, job_id, action_id, pipeline=pipeline)
                pipeline.execute()
            except redis.WatchError:
                return False
        if status is not None:
            log.warning("job %s was %s; replaced by a new one", job_id, _text(status))
        return True

    def _enqueue(self, function: str, on_failure: str, job_id: str, action_id: str) -> None:
        """Queue a job unless Redis holds one with its id (waiting, running or over)."""
        with suppress(DuplicateJobError):
            self._enqueue_new(function, on_failure, job_id, action_id)

    def _enqueue_new(
        self, function: str, on_failure: str, job_id: str, action_id: str, unique: bool = True
    ) -> None:
        if unique:
            # The uniqueness script is atomic on its own and ignores a pipeline.
            self._enqueue_call(function, on_failure, job_id, action_id, unique=True)
            return
        # One pipeline: the job and its queue reach Redis in a single round trip.
        with self.connection.pipeline() as pipeline:
            self._enqueue_call(function, on_failure, job_id, action_id, pipeline=pipeline)
            pipeline.execute()

    def _enqueue_call(
        self,
        function: str,
        on_failure: str,
        job_id: str,
        action_id: str,
        unique: bool = False,
        pipeline: redis.client.Pipeline | None = None,
    ) -> None:
        self.queue.enqueue_call(
            function,
            args=(action_id,),
            job_id=job_id,
            timeout=self._job_timeout,
            # Finished jobs need not stay: the sync log in SQL is the record.
            result_ttl=0,
            failure_ttl=7 * 24 * 3600,
            retry=Retry(max=self._retries) if self._retries else None,
            on_failure=Callback(on_failure),
            # Checked atomically in Redis: a second delivery of a pending action must not
            # add a second copy that would run it again before its backoff is over.
            unique=unique,
            pipeline=pipeline,
        )

    def enqueue_subscriptions(self, shop: str) -> None:
        """Queue a check of one shop's webhook subscriptions that re-creates missing ones."""
        self.enqueue_task(SUBSCRIPTIONS_CHECK, f"subscriptions-{_digest(shop)}", shop)

    def enqueue_compliance(self, function: str, shop: str, webhook_id: str) -> None:
        """Queue the work a privacy delivery asks for (`CUSTOMER_REDACT`, `SHOP_REDACT`)."""
        job_id = f"compliance-{_digest(shop, webhook_id)}"
        self.enqueue_task(function, job_id, shop, webhook_id, on_failure=COMPLIANCE_FAILED)

    def enqueue_task(
        self, function: str, job_id: str, *arguments: str, on_failure: str | None = None
    ) -> None:
        """Queue `function(*arguments)` unless a job with this id is queued or running."""
        with suppress(DuplicateJobError):
            self.queue.enqueue_call(
                function,
                args=arguments,
                job_id=job_id,
                timeout=self._job_timeout,
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
                retry=(
                    Retry(max=self._retries, interval=TASK_RETRY_INTERVALS)
                    if self._retries
                    else None
                ),
                on_failure=Callback(on_failure) if on_failure else None,
                unique=True,
            )

    def enqueue_periodic(self, function: str, name: str, slot: int) -> bool:
        """Queue `function` once for this time slot, however many workers ask; True if queued."""
        try:
            self.queue.enqueue_call(
                function,
                job_id=f"{name}-{slot}",
                timeout=self._job_timeout,
                result_ttl=0,
                failure_ttl=24 * 3600,
                unique=True,
            )
        except DuplicateJobError:
            return False
        return True

    def is_queued(self, job_id: str) -> bool:
        """Whether the job with this id is waiting (queued, scheduled) or running."""
        return bool(self.waiting_or_running([job_id]))

    def waiting_or_running(self, job_ids: Sequence[str]) -> set[str]:
        """Which of these jobs are waiting or running, read in one round trip to Redis."""
        with self.connection.pipeline(transaction=False) as pipeline:
            for job_id in job_ids:
                pipeline.hget(Job.key_for(job_id), "status")
            statuses = pipeline.execute()
        return {
            job_id
            for job_id, status in zip(job_ids, statuses, strict=True)
            if status is not None and _text(status) not in OVER
        }

    def ping(self) -> None:
        """Raise when Redis cannot be reached."""
        self.connection.ping()


def _digest(*parts: str) -> str:
    """A job id part for free text (RQ allows only letters, digits, `_` and `-`)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _fetched(job_id: str, connection: redis.Redis) -> Job | None:
    """The job with this id, or None if it has just gone (expired, or deleted)."""
    try:
        return Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
