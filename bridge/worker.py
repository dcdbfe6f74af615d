"""The RQ worker that runs printbridge's jobs inside the app built by create_app."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask
from rq.job import Job
from rq.queue import Queue
from rq.utils import now

from bridge.adapters.leases import LeasedWorker
from bridge.adapters.queue import (
    CUSTOMER_REDACT,
    REPORT_BACK,
    RUN_ACTION,
    SHOP_REDACT,
    SUBSCRIPTIONS_CHECK,
)
from bridge.app import services_of
from bridge.logs import log_context
from bridge.metrics import count_job
from bridge.results import RetryLater

log = logging.getLogger(__name__)

# What a job's arguments are, for the ids on its log lines.
ARGUMENTS: dict[str, tuple[str, ...]] = {
    RUN_ACTION: ("action_id",),
    REPORT_BACK: ("action_id",),
    CUSTOMER_REDACT: ("shop", "delivery_id"),
    SHOP_REDACT: ("shop", "delivery_id"),
    SUBSCRIPTIONS_CHECK: ("shop",),
}


class AppWorker(LeasedWorker):
    """Runs each job in the app's context, so jobs use the app's services.

    Jobs run in the worker process itself (no fork per job): the app, its connection pools
    and its HTTP session are built once and reused, which keeps a job's start in the
    milliseconds. A job whose worker died is run again once its lease lapses (LeasedWorker).
    Each run is counted (printbridge_jobs, its duration and its wait in the queue) and its log
    lines carry the job's id and the ids it was given.
    """

    def __init__(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        self.app = app
        self._retried = False
        super().__init__(*args, **kwargs)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """Log a planned retry in one line; anything else with RQ's traceback."""
        if isinstance(exc_info[1], RetryLater):
            self._retried = True
            log.info("job %s will be retried: %s", job.id, exc_info[1])
            return
        super().handle_exception(job, *exc_info)

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        metrics = services_of(self.app).metrics
        waited = (now() - job.enqueued_at).total_seconds() if job.enqueued_at else -1.0
        self._retried = False
        started = time.perf_counter()
        with self.app.app_context(), log_context(job_id=job.id, **job_ids(job)):
            result: bool = super().perform_job(job, queue, *args, **kwargs)
        outcome = "ok" if result else "retry" if self._retried else "failed"
        count_job(metrics, job_name(job), outcome, time.perf_counter() - started, waited)
        # One round trip after the job, so a scrape soon after sees it from any process.
        metrics.flush()
        return result


def job_name(job: Job) -> str:
    """A job's function without its module (`run_action`), a bounded metric label."""
    return (job.func_name or "unknown").rsplit(".", 1)[-1]


def job_ids(job: Job) -> Mapping[str, str]:
    """The ids a job was given, named (action_id, shop, delivery_id), for its log lines."""
    names = ARGUMENTS.get(job.func_name or "", ())
    return {name: str(value) for name, value in zip(names, job.args or (), strict=False)}


def make_worker(app: Flask) -> AppWorker:
    """A worker on printbridge's queue, connected to the app's Redis."""
    services = services_of(app)
    return AppWorker(
        app,
        [services.queue.queue],
        connection=services.redis,
        lease_seconds=services.settings.worker_lease_seconds,
    )
