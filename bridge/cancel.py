"""Cancelling a store order at Gelato: every part of it, each judged by its status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.adapters.gelato import GelatoApi, GelatoOrder
from bridge.adapters.storage import ActionRecord
from bridge.domain.errors import TransientError
from bridge.domain.outcomes import CancelPlan, Outcome, Part, aggregate_cancel, plan_cancel
from bridge.domain.retry import Answer
from bridge.results import Result
from bridge.services import Services

# Set on a part once its cancel is on the way to Gelato, before any answer.
CANCEL_SENT = "cancel_sent_at"
# Reasons of a part: a cancel sent and not (yet) answered; a cancel Gelato refused (409).
UNANSWERED = "gelato.cancel_unanswered"
CONFLICT = "gelato.conflict"


def cancel(services: Services, action: ActionRecord, gelato: GelatoApi) -> Result:
    """Cancel every Gelato order of the store order that is still before production."""
    orders = [
        order for order in gelato.find_orders(action.reference) if order.order_type != "draft"
    ]
    if not orders:
        return not_found(services, action)
    parts: dict[str, dict[str, Any]] = dict(action.detail.get("parts") or {})
    # What the action was created with (a re-evaluation's link to the original) stays.
    detail: dict[str, Any] = {**action.detail, "reference": action.reference, "parts": parts}

    def save() -> None:
        services.storage.save_detail(action.id, detail, services.clock())

    for order in orders:
        parts[order.id] = _cancel_part(services, action, gelato, order, parts, save)
        save()
    results = [Part(part["result"]) for part in parts.values()]
    outcome = aggregate_cancel(results)
    message = describe(outcome, orders, parts)
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
    parts: dict[str, dict[str, Any]],
    save: Callable[[], None],
) -> dict[str, Any]:
    previous = parts.get(order.id) or {}
    part: dict[str, Any] = {
        "status_found": order.status,
        "checked_at": services.clock().isoformat(),
    }
    if previous.get(CANCEL_SENT):
        part[CANCEL_SENT] = previous[CANCEL_SENT]
    plan = plan_cancel(order.status)
    if plan is CancelPlan.NOTHING_ALREADY_CANCELLED:
        # An earlier attempt of this action may have been the one that cancelled it, even if
        # it never saw Gelato's answer: a cancel it sent and got no answer to counts as ours.
        by_us = previous.get("result") == Part.CANCELLED or previous.get("reason") == UNANSWERED
        return {**part, "result": Part.CANCELLED if by_us else Part.ALREADY_CANCELLED}
    if plan is CancelPlan.NOTHING_TOO_LATE:
        return {**part, "result": Part.TOO_LATE}
    if previous.get("reason") == CONFLICT:
        # Gelato refused this cancel with a 409 in an earlier attempt: that is final.
        return {**part, "result": Part.TOO_LATE, "reason": CONFLICT}
    if action.dry_run:
        return {**part, "result": Part.WOULD_CANCEL}
    # Written down before it is sent: the answer can be lost (a timeout, a worker killed) after
    # Gelato carried it out. Until an answer replaces it, the part reads as unanswered.
    part[CANCEL_SENT] = services.clock().isoformat()
    parts[order.id] = {**part, "result": Part.FAILED, "reason": UNANSWERED}
    save()
    answer = gelato.cancel(order.id)
    if answer is Answer.OK:
        return {**part, "result": Part.CANCELLED}
    if answer is Answer.CONFLICT:
        return {**part, "result": Part.TOO_LATE, "reason": CONFLICT}
    return {**part, "result": Part.FAILED, "reason": "gelato.order_vanished"}


def describe(outcome: Outcome, orders: list[GelatoOrder], parts: dict[str, dict[str, Any]]) -> str:
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


def not_found(services: Services, action: ActionRecord) -> Result:
    """No Gelato order has the reference: look again during the grace period, then give up."""
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
        {**action.detail, "reference": action.reference, "gelato_orders": []},
    )
