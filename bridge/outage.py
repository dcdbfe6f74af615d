"""A job that finds the database unreachable is retried later, like any passing fault."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bridge.adapters.database import unreachable
from bridge.domain.retry import backoff_delay
from bridge.results import RetryLater
from bridge.services import Services

log = logging.getLogger(__name__)

REASON = "storage.unavailable"


@contextmanager
def retried_when_unreachable(services: Services, attempt: int) -> Iterator[None]:
    """Turn the database being down or lost during the block into RetryLater, with backoff.

    Without it the job's error would spend RQ's retries back to back in a second and leave
    the action to the failure callback, which cannot reach the database either. Nothing
    is written about the failed try (the database is what failed); an attempt it left
    open is closed by the next one.
    """
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        if not unreachable(error):
            raise
        delay = backoff_delay(
            attempt,
            base=services.settings.retry_base_seconds,
            cap=services.settings.retry_cap_seconds,
            jitter=services.random(),
        )
        log.warning("database unreachable (%s): job retried in %.1fs", type(error).__name__, delay)
        raise RetryLater(REASON, delay) from error
