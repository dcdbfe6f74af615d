"""Webhook subscription jobs: one shop after install, every shop periodically."""

from __future__ import annotations

from bridge import subscriptions
from jobs.context import job_services


def check_shop(shop: str) -> None:
    """Check one shop's subscriptions and re-create missing ones; RQ retries a passing failure."""
    subscriptions.check_shop(job_services(), shop)


def check_all() -> None:
    """Check every installed shop's subscriptions."""
    subscriptions.check_all(job_services())
