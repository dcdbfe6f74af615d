"""The services a job runs with: those of the worker's app, built by create_app."""

from __future__ import annotations

import math
from typing import Any

from flask import current_app, has_app_context
from rq.job import Job

from bridge.app import create_app, services_of
from bridge.results import RetryLater
from bridge.services import Services

_fallback: list[Any] = []


def job_services() -> Services:
    """The current app's services; a worker started without printbridge's app builds one once."""
    if has_app_context():
        return services_of(current_app)
    if not _fallback:
        _fallback.append(create_app())
    return services_of(_fallback[0])


def attempt_number(job: Job | None, retries: int) -> int:
    """Which run of the job this is, counting from one."""
    if job is None or job.retries_left is None:
        return 1
    return retries - job.retries_left + 1


def schedule_retry(job: Job | None, retry: RetryLater) -> None:
    """Make RQ's next retry of this job wait `retry.delay` seconds.

    RQ reads the interval of the next retry from the job's `retry_intervals` when the job
    fails; setting it here lets each retry wait what this failure asks for (backoff with
    jitter, or the server's Retry-After) instead of a schedule fixed at enqueue time.
    """
    if job is None:
        return
    # RQ schedules in whole seconds and keeps the due time truncated to the second, so a
    # retry may run up to a second early: one second more keeps Retry-After a true floor.
    job.retry_intervals = [math.ceil(retry.delay) + 1 if retry.delay > 0 else 0]
