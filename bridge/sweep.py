"""The sweep: recorded work whose job will not run (lost by Redis, or over) is queued again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from bridge.adapters import stalled
from bridge.adapters.queue import JobQueue, report_job_id
from bridge.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swept:
    """What one sweep queued again."""

    actions: list[str]
    reports: list[str]


def sweep(services: Services) -> Swept:
    """Queue every stalled action and report-back whose job is neither waiting nor running.

    That job may be missing (Redis lost it) or over: failed, for instance, after its retries
    were spent while the database was down, so that its failure callback could not record
    the failure either. Work idle for less than BRIDGE_SWEEP_GRACE_SECONDS is left alone:
    its job is most likely just queued or running.
    """
    engine, queue = services.storage.engine, services.queue
    horizon = services.clock() - timedelta(seconds=services.settings.sweep_grace_seconds)
    lost_actions = _requeued(
        queue, stalled.unfinished_actions(engine, horizon), _same, queue.requeue_action
    )
    lost_reports = _requeued(
        queue, stalled.unreported_actions(engine, horizon), report_job_id, queue.requeue_report
    )
    if lost_actions or lost_reports:
        log.warning(
            "sweep queued %d action(s) and %d report-back(s) again",
            len(lost_actions),
            len(lost_reports),
        )
    return Swept(lost_actions, lost_reports)


def _requeued(
    queue: JobQueue,
    action_ids: Iterable[str],
    job_id: Callable[[str], str],
    requeue: Callable[[str], bool],
) -> list[str]:
    """Requeue the actions whose job (`job_id` of the action) is neither waiting nor running.

    The jobs of a page of actions are looked up in one round trip: a large backlog of queued
    work costs one read per page, and only the stalled actions a write each.
    """
    requeued: list[str] = []
    for page in _pages(action_ids, stalled.PAGE):
        live = queue.waiting_or_running([job_id(action_id) for action_id in page])
        requeued.extend(
            action_id for action_id in page if job_id(action_id) not in live and requeue(action_id)
        )
    return requeued


def _same(action_id: str) -> str:
    """An action job's id: the action's own."""
    return action_id


def _pages(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """`items` in lists of at most `size`."""
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page
