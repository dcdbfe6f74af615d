"""The report-back job: the outcome goes onto the store order."""

from __future__ import annotations

from typing import Any

from rq import get_current_job
from rq.job import Job

from bridge import report
from bridge.outage import retried_when_unreachable
from bridge.results import RetryLater
from jobs.context import attempt_number, job_services, schedule_retry


def report_back(action_id: str) -> None:
    """Write an action's outcome onto its store order; passing failures are retried."""
    services = job_services()
    job = get_current_job()
    attempt = attempt_number(job, services.settings.retry_max)
    try:
        with retried_when_unreachable(services, attempt):
            report.report_back(services, action_id, attempt)
    except RetryLater as retry:
        schedule_retry(job, retry)
        raise


def on_report_failure(job: Job, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """After the last failed run, record that the report-back did not get through."""
    if job.retries_left:
        return
    report.give_up(job_services(), str(job.args[0]), exc)
