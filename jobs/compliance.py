"""Privacy jobs: erase a customer's orders, erase a shop."""

from __future__ import annotations

from typing import Any

from rq.job import Job

from bridge import compliance
from jobs.context import job_services


def redact_customer(shop: str, webhook_id: str) -> None:
    """Run the erasure a `customers/redact` delivery asked for."""
    compliance.redact_customer(job_services(), shop, webhook_id)


def erase_shop(shop: str, webhook_id: str) -> None:
    """Run the erasure a `shop/redact` delivery asked for."""
    compliance.erase_shop(job_services(), shop, webhook_id)


def on_compliance_failure(job: Job, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """After the last failed run, record the failure on the delivery."""
    if job.retries_left:
        return
    compliance.give_up(job_services(), str(job.args[0]), str(job.args[1]))
