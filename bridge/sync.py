"""Running an action: re-read Gelato, act, classify the outcome, record every call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bridge.adapters.gelato import GelatoApi, GelatoOrder
from bridge.adapters.locks import order_lock
from bridge.adapters.storage import ActionRecord, ApiCall
from bridge.domain.actions import ActionKind
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.outcomes import CancelPlan, Outcome, Part, aggregate_cancel, plan_cancel
from bridge.domain.retry import Answer, backoff_delay
from bridge.services import Services

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """Raised to the job layer: run the action again after `delay` seconds."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(f"{reason}: retry in {delay:.1f}s")
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True)
class Result:
    """How one attempt ended the action."""

    outcome: Outcome
    reason: str | None
    message: str
    detail: dict[str, Any]


def run_action(services: Services, action_id: str) -> None:
    """Run one attempt of an action; raise RetryLater when it should be tried again."""
    action = services.storage.load_action(action_id)
    if action is None:
        log.warning("action %s does not exist; nothing to run", action_id)
        return
    if action.outcome is not None:
        log.info("action %s already ended %s; not redone", action_id, action.outcome)
        return
    ttl = services.settings.job_timeout_seconds + 30
    try:
        with order_lock(services.redis, action.shop, action.order_id, ttl):
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
    access = services.shops.get(action.shop)
    if access is None:
        raise PermanentError("shop.unknown", f"{action.shop} is not served by printbridge")
    if not access.gelato_api_key:
        raise PermanentError("gelato.no_key", f"no Gelato API key is set for {action.shop}")
    gelato = services.gelato(access, record)
    if action.kind == ActionKind.CANCEL:
        return _cancel(services, action, gelato)
    raise PermanentError("action.unknown_kind", f"printbridge cannot run {action.kind!r} actions")


def _cancel(services: Services, action: ActionRecord, gelato: GelatoApi) -> Result:
    orders = [
        order for order in gelato.find_orders(action.reference) if order.order_type != "draft"
    ]
    if not orders:
        age = (services.clock() - action.created_at).total_seconds()
        if age < services.settings.not_found_grace_seconds:
            # Orders reach Gelato some time after the store has them: look again shortly.
            raise TransientError(
                "gelato.not_found_yet", f"no Gelato order has reference {action.reference} yet"
            )
        return Result(
            Outcome.NOT_FOUND,
            "gelato.not_found",
            f"No Gelato order has the reference {action.reference}.",
            {"reference": action.reference, "gelato_orders": []},
        )
    parts: dict[str, dict[str, Any]] = dict(action.detail.get("parts") or {})
    detail: dict[str, Any] = {"reference": action.reference, "parts": parts}
    for order in orders:
        parts[order.id] = _cancel_part(services, action, gelato, order, parts.get(order.id))
        services.storage.save_detail(action.id, detail, services.clock())
    results = [Part(part["result"]) for part in parts.values()]
    outcome = aggregate_cancel(results)
    message = _describe(outcome, orders, parts)
    detail["gelato_orders"] = [{"id": order.id, **parts[order.id]} for order in orders]
    if action.dry_run and outcome is not Outcome.NEEDS_ATTENTION:
        detail["would_be"] = outcome.value
        return Result(Outcome.DRY_RUN, None, f"Dry run. Would be: {message}", detail)
    failed = [part for part in parts.values() if part["result"] == Part.FAILED]
    reason = failed[0].get("reason") if failed else None
    return Result(outcome, reason, message, detail)


def _cancel_part(
    services: Services,
    action: ActionRecord,
    gelato: GelatoApi,
    order: GelatoOrder,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    part: dict[str, Any] = {
        "status_found": order.status,
        "checked_at": services.clock().isoformat(),
    }
    plan = plan_cancel(order.status)
    if plan is CancelPlan.NOTHING_ALREADY_CANCELLED:
        # An earlier attempt of this action may have been the one that cancelled it.
        by_us = previous is not None and previous.get("result") == Part.CANCELLED
        return {**part, "result": Part.CANCELLED if by_us else Part.ALREADY_CANCELLED}
    if plan is CancelPlan.NOTHING_TOO_LATE:
        return {**part, "result": Part.TOO_LATE}
    if action.dry_run:
        return {**part, "result": Part.WOULD_CANCEL}
    answer = gelato.cancel(order.id)
    if answer is Answer.OK:
        return {**part, "result": Part.CANCELLED}
    if answer is Answer.CONFLICT:
        return {**part, "result": Part.TOO_LATE, "reason": "gelato.conflict"}
    return {**part, "result": Part.FAILED, "reason": "gelato.order_vanished"}


def _describe(outcome: Outcome, orders: list[GelatoOrder], parts: dict[str, dict[str, Any]]) -> str:
    """The outcome in plain words, naming each Gelato order of a split order."""
    if len(orders) == 1:
        part = parts[orders[0].id]
        return f"{outcome.sentence} Gelato order {orders[0].id} was {part['status_found']}."
    lines = [
        f"Gelato order {index}/{len(orders)} {order.id}: found {parts[order.id]['status_found']}, "
        f"{parts[order.id]['result'].replace('_', ' ')}."
        for index, order in enumerate(orders, start=1)
    ]
    return " ".join([outcome.sentence, *lines])


def give_up(services: Services, action_id: str, error: BaseException | None) -> None:
    """End an action whose job failed for the last time: `needs_attention`, loudly."""
    if isinstance(error, RetryLater):
        reason, message = "retries.exhausted", f"Gave up after the last retry ({error.reason})."
    else:
        reason = "internal.error"
        message = f"printbridge failed while running it: {type(error).__name__}"
    log.error("action %s needs attention: %s", action_id, reason)
    now = services.clock()
    services.storage.close_open_attempts(action_id, now, reason)
    if services.storage.finish_action(
        action_id, now, outcome=Outcome.NEEDS_ATTENTION, reason=reason, message=message
    ):
        services.queue.enqueue_report(action_id)
