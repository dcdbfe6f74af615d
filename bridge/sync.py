"""Running an action: re-read Gelato, act, classify the outcome, record every call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bridge.adapters.gelato import GelatoApi
from bridge.adapters.locks import order_lock
from bridge.adapters.storage import ActionRecord, ApiCall
from bridge.cancel import cancel
from bridge.domain.actions import ActionKind, ReportState
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.outcomes import Outcome
from bridge.domain.retry import backoff_delay
from bridge.logs import bind
from bridge.reissue import readdress
from bridge.results import Result, RetryLater
from bridge.services import Services

RUNNERS: dict[str, Callable[[Services, ActionRecord, GelatoApi], Result]] = {
    ActionKind.CANCEL: cancel,
    ActionKind.ADDRESS_UPDATE: readdress,
}

log = logging.getLogger(__name__)


def run_action(services: Services, action_id: str) -> None:
    """Run one attempt of an action; raise RetryLater when it should be tried again."""
    action = services.storage.load_action(action_id)
    if action is None:
        log.warning("action %s does not exist; nothing to run", action_id)
        return
    bind(shop=action.shop)
    if action.outcome is not None:
        log.info("action %s already ended %s; not redone", action_id, action.outcome)
        if action.report_state == ReportState.PENDING:
            # Its worker may have died between recording the outcome and queueing the report.
            services.queue.enqueue_report(action_id)
        return
    settings = services.settings
    lease, longest = settings.worker_lease_seconds, settings.job_timeout_seconds
    try:
        with order_lock(services.redis, action.shop, action.order_id, lease, renew_for=longest):
            _attempt(services, action_id)
    except TransientError as error:
        # Only reached when the order's lock is held by another action's job.
        raise RetryLater(error.reason, error.retry_after or 2.0) from error


def _attempt(services: Services, action_id: str) -> None:
    storage, now = services.storage, services.clock
    number = storage.start_attempt(action_id, now())
    action = storage.load_action(action_id)
    if number is None or action is None:
        return

    def record(call: ApiCall) -> None:
        storage.record_api_call(action_id, number, call)

    try:
        result = _run(services, action, record)
    except TransientError as error:
        if number > services.settings.retry_max:
            result = Result(
                Outcome.NEEDS_ATTENTION,
                "retries.exhausted",
                f"Gave up after {number} attempts; last error: {error.message}",
                storage.load_action(action_id).detail,  # type: ignore[union-attr]
            )
        else:
            delay = backoff_delay(
                number,
                base=services.settings.retry_base_seconds,
                cap=services.settings.retry_cap_seconds,
                jitter=services.random(),
                retry_after=error.retry_after,
            )
            storage.end_attempt(
                action_id, number, now(), result="retry", reason=error.reason,
                message=error.message, retry_in=delay,
            )  # fmt: skip
            raise RetryLater(error.reason, delay) from error
    except PermanentError as error:
        latest = storage.load_action(action_id)
        result = Result(
            Outcome.NEEDS_ATTENTION, error.reason, error.message, latest.detail if latest else {}
        )
    storage.end_attempt(
        action_id, number, now(), result="done", reason=result.reason, message=result.message
    )
    if storage.finish_action(
        action_id,
        now(),
        outcome=result.outcome,
        reason=result.reason,
        message=result.message,
        detail=result.detail,
    ):
        services.queue.enqueue_report(action_id)


def _run(services: Services, action: ActionRecord, record: Any) -> Result:
    # Read now, not from the webhook path's cache: an uninstall must stop what is queued.
    access = services.shops.load(action.shop)
    if access is None:
        raise PermanentError("shop.unknown", f"{action.shop} is not served by printbridge")
    if not access.installed:
        raise PermanentError(
            "shop.uninstalled", f"printbridge was uninstalled from {action.shop}; nothing was done"
        )
    if not access.gelato_api_key:
        raise PermanentError("gelato.no_key", f"no Gelato API key is set for {action.shop}")
    gelato = services.gelato(access, record)
    run = RUNNERS.get(action.kind)
    if run is None:
        raise PermanentError(
            "action.unknown_kind", f"printbridge cannot run {action.kind!r} actions"
        )
    return run(services, action, gelato)


def give_up(services: Services, action_id: str, error: BaseException | None) -> None:
    """End an action whose job failed for the last time: `needs_attention`, loudly."""
    if isinstance(error, RetryLater):
        reason, message = "retries.exhausted", f"Gave up after the last retry ({error.reason})."
    else:
        reason = "internal.error"
        message = f"printbridge failed while running it: {type(error).__name__}"
    action = services.storage.load_action(action_id)
    stranded = [
        key
        for key, part in ((action.detail.get("parts") or {}).items() if action else ())
        if part.get("step") == "original_cancelled"
    ]
    if stranded:
        # The worst state a merchant can be left in: say so where support looks first.
        message = (
            f"ORIGINAL CANCELLED, REPLACEMENT NOT CONFIRMED for Gelato order(s) "
            f"{', '.join(stranded)}. {message}"
        )
    log.error("action %s needs attention: %s", action_id, reason)
    now = services.clock()
    services.storage.close_open_attempts(action_id, now, reason)
    if services.storage.finish_action(
        action_id, now, outcome=Outcome.NEEDS_ATTENTION, reason=reason, message=message
    ):
        services.queue.enqueue_report(action_id)
