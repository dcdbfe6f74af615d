"""The sweep: recorded work whose job never ran (Redis lost it, or was down) is queued again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bridge.adapters.queue import report_job_id
from bridge.adapters.stalled import unfinished_actions, unreported_actions
from bridge.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swept:
    """What one sweep queued again."""

    actions: list[str]
    reports: list[str]


def sweep(services: Services) -> Swept:
    """Queue every stalled action and report-back whose job Redis does not hold.

    Work idle for less than BRIDGE_SWEEP_GRACE_SECONDS is left alone: its job is most likely
    just queued or running.
    """
    engine, queue = services.storage.engine, services.queue
    horizon = services.clock() - timedelta(seconds=services.settings.sweep_grace_seconds)
    lost_actions = [
        action_id
        for action_id in unfinished_actions(engine, horizon)
        if not queue.is_queued(action_id)
    ]
    for action_id in lost_actions:
        queue.enqueue_action(action_id)
    lost_reports = [
        action_id
        for action_id in unreported_actions(engine, horizon)
        if not queue.is_queued(report_job_id(action_id))
    ]
    for action_id in lost_reports:
        queue.enqueue_report(action_id)
    if lost_actions or lost_reports:
        log.warning(
            "sweep queued %d action(s) and %d report-back(s) again",
            len(lost_actions),
            len(lost_reports),
        )
    return Swept(lost_actions, lost_reports)
