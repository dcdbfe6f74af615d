"""The RQ worker that runs printbridge's jobs inside the app built by create_app."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from rq.job import Job
from rq.queue import Queue

from bridge.adapters.leases import LeasedWorker
from bridge.app import services_of
from bridge.results import RetryLater

log = logging.getLogger(__name__)


class AppWorker(LeasedWorker):
    """Runs each job in the app's context, so jobs use the app's services.

    Jobs run in the worker process itself (no fork per job): the app, its connection pools
    and its HTTP session are built once and reused, which keeps a job's start in the
    milliseconds. A job whose worker died is run again once its lease lapses (LeasedWorker).
    """

    def __init__(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        self.app = app
        super().__init__(*args, **kwargs)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """Log a planned retry in one line; anything else with RQ's traceback."""
        if isinstance(exc_info[1], RetryLater):
            log.info("job %s will be retried: %s", job.id, exc_info[1])
            return
        super().handle_exception(job, *exc_info)

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with self.app.app_context():
            result: bool = super().perform_job(job, queue, *args, **kwargs)
            return result


def make_worker(app: Flask) -> AppWorker:
    """A worker on printbridge's queue, connected to the app's Redis."""
    services = services_of(app)
    return AppWorker(
        app,
        [services.queue.queue],
        connection=services.redis,
        lease_seconds=services.settings.worker_lease_seconds,
    )
