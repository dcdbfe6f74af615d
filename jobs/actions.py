"""The action job: one attempt at Gelato for one store order."""

from __future__ import annotations

from typing import Any

from rq import get_current_job
from rq.job import Job

from bridge import sync
from bridge.outage import retried_when_unreachable
from bridge.results import RetryLater
from jobs.context import attempt_number, job_services, schedule_retry


def run_action(action_id: str) -> None:
    """Run an action; a passing failure is raised so that RQ retries it."""
    services = job_services()
    job = get_current_job()
    try:
        with retried_when_unreachable(services, attempt_number(job, services.settings.retry_max)):
            sync.run_action(services, action_id)
    except RetryLater as retry:
        schedule_retry(job, retry)
        raise


def on_action_failure(job: Job, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """After the last failed run, end the action `needs_attention` so it never hangs."""
    if job.retries_left:
        return
    sync.give_up(job_services(), str(job.args[0]), exc)
