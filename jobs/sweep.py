"""The sweep job: queue again what the sync log holds but the queue lost."""

from __future__ import annotations

from bridge import sweep as sweeping
from jobs.context import job_services


def sweep() -> None:
    """Run one sweep."""
    sweeping.sweep(job_services())
