"""Reporting back: the outcome goes onto the store order as a tag and a metafield."""

from __future__ import annotations

import logging
from typing import Any

from bridge.adapters.storage import ActionRecord, ApiCall
from bridge.domain.actions import ReportState
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.outcomes import Outcome
from bridge.domain.retry import backoff_delay
from bridge.results import RetryLater
from bridge.services import Services

log = logging.getLogger(__name__)

METAFIELD_NAMESPACE = "gelato_bridge"
METAFIELD_KEY = "last_action"


def report_back(services: Services, action_id: str, attempt: int) -> None:
    """Write a finished action's outcome onto its store order; RetryLater on a passing fault."""
    storage = services.storage
    action = storage.load_action(action_id)
    if action is None or action.outcome is None or action.report_state == ReportState.DONE:
        return
    outcome = Outcome(action.outcome)
    if outcome is Outcome.SUPERSEDED:
        storage.set_report_state(action_id, ReportState.NONE, services.clock())
        return
    access = services.shops.load(action.shop)
    if access is None or not access.installed or not access.access_token:
        reason = "shop.uninstalled" if access and not access.installed else "store.no_credentials"
        storage.set_report_state(action_id, ReportState.FAILED, services.clock(), reason)
        return

    def record(call: ApiCall) -> None:
        storage.record_api_call(action_id, None, call)

    store = services.store(access, record)
    try:
        if outcome.tag is not None:
            store.add_tags(action.order_gid, [outcome.tag])
        store.set_json_metafield(
            action.order_gid, METAFIELD_NAMESPACE, METAFIELD_KEY, metafield_value(action)
        )
    except TransientError as error:
        delay = backoff_delay(
            attempt,
            base=services.settings.retry_base_seconds,
            cap=services.settings.retry_cap_seconds,
            jitter=services.random(),
            retry_after=error.retry_after,
        )
        raise RetryLater(error.reason, delay) from error
    except PermanentError as error:
        log.warning("report-back of action %s refused: %s", action_id, error.reason)
        storage.set_report_state(action_id, ReportState.FAILED, services.clock(), error.reason)
        return
    storage.set_report_state(action_id, ReportState.DONE, services.clock())


def metafield_value(action: ActionRecord) -> dict[str, Any]:
    """The `gelato_bridge.last_action` document: what was done, per Gelato order."""
    return {
        "action_id": action.id,
        "kind": action.kind,
        "outcome": action.outcome,
        "reason": action.reason,
        "message": action.message,
        "dry_run": action.dry_run,
        "finished_at": action.finished_at.isoformat() if action.finished_at else None,
        "gelato_orders": [
            {
                "id": part.get("id"),
                "status_found": part.get("status_found"),
                "result": part.get("result"),
                "replaced_by": part.get("replaced_by"),
            }
            for part in action.detail.get("gelato_orders") or []
        ],
    }


def give_up(services: Services, action_id: str, error: BaseException | None) -> None:
    """Record that the report-back failed for the last time."""
    reason = error.reason if isinstance(error, RetryLater) else "internal.error"
    log.error("report-back of action %s failed for good: %s", action_id, reason)
    services.storage.set_report_state(action_id, ReportState.FAILED, services.clock(), reason)
