"""Address edits at Gelato: cancel and re-issue each part while it is before production.

Gelato cannot change the address of a placed order (reference/gelato.md §4.1), so each Gelato
order of the store order is replaced: a draft copy with the new address is created, the
original is cancelled, and the draft is made a real order. The step reached for each part is
saved after every call, and each step first looks for what an interrupted attempt already
did, so a retry finishes the work instead of repeating it: in the end each part has exactly
one live order with the new address, or its original is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.adapters.gelato import GelatoApi, GelatoOrder
from bridge.adapters.storage import ActionRecord
from bridge.cancel import CANCEL_SENT, describe, not_found
from bridge.domain.address import Address, check_for_gelato, from_gelato
from bridge.domain.errors import PermanentError
from bridge.domain.outcomes import (
    CANCELLED_STATUSES,
    Outcome,
    Part,
    aggregate_address,
    is_past_the_cut,
)
from bridge.domain.retry import Answer
from bridge.results import Result
from bridge.services import Services

REPLACES = "printbridge_replaces"
ACTION = "printbridge_action"
# Steps of one part, in order; a retry resumes at the one saved.
DRAFTED, ORIGINAL_CANCELLED, DONE = "drafted", "original_cancelled", "done"
# Gelato's answer to the cancel of an original, once it refused it (409, 404).
CANCEL_ANSWER = "cancel_answer"
# Gelato's answer to making the draft an order, once it refused it (409, 404).
CONFIRM_ANSWER = "confirm_answer"


def readdress(services: Services, action: ActionRecord, gelato: GelatoApi) -> Result:
    """Re-issue every Gelato order of the store order with the action's new address."""
    target = from_gelato(action.detail.get("address"))
    check_for_gelato(target)
    if not _started(action) and services.storage.newer_address_action(action):
        return Result(
            Outcome.SUPERSEDED,
            "address.superseded",
            Outcome.SUPERSEDED.sentence,
            action.detail,
        )
    found = gelato.find_orders(action.reference)
    originals = [order for order in found if order.order_type != "draft"]
    parts: dict[str, dict[str, Any]] = dict(action.detail.get("parts") or {})
    # A replacement made by this action is live now, not an original to replace again.
    replacements = {part.get("draft_id") for part in parts.values()}
    originals = [order for order in originals if order.id not in replacements]
    if not originals:
        return not_found(services, action)
    detail: dict[str, Any] = {**action.detail, "reference": action.reference, "parts": parts}

    def save() -> None:
        services.storage.save_detail(action.id, detail, services.clock())

    for order in originals:
        part = parts.setdefault(order.id, {"status_found": order.status})
        _readdress_part(services, action, gelato, order, part, target, found, save)
        save()
    results = [Part(parts[order.id]["result"]) for order in originals]
    outcome = aggregate_address(results)
    message = describe(outcome, originals, parts)
    detail["gelato_orders"] = [{"id": order.id, **_public(parts[order.id])} for order in originals]
    new_ids = [part["replaced_by"] for part in parts.values() if part.get("replaced_by")]
    if new_ids:
        services.storage.set_gelato_order_ids(action.shop, action.order_id, new_ids)
    if action.dry_run and outcome is not Outcome.NEEDS_ATTENTION:
        detail["would_be"] = outcome.value
        return Result(Outcome.DRY_RUN, None, f"Dry run. Would be: {message}", detail)
    failed = [part for part in parts.values() if part.get("result") == Part.FAILED]
    reason = failed[0].get("reason") if failed else None
    return Result(outcome, reason, message, detail)


def _readdress_part(
    services: Services,
    action: ActionRecord,
    gelato: GelatoApi,
    order: GelatoOrder,
    part: dict[str, Any],
    target: Address,
    found: list[GelatoOrder],
    save: Callable[[], None],
) -> None:
    step = part.get("step")
    if step == DONE:
        return
    if step is None:
        if order.status in CANCELLED_STATUSES:
            part.update(result=Part.ALREADY_CANCELLED, step=DONE)
            return
        if is_past_the_cut(order.status):
            part.update(result=Part.TOO_LATE, step=DONE)
            return
        full = gelato.get_order(order.id) or {}
        current = from_gelato(full.get("shippingAddress"))
        if current.fingerprint() == target.fingerprint():
            part.update(result=Part.ALREADY_AT_ADDRESS, step=DONE)
            return
        moves_country = bool(current.country) and current.country != target.country
        if moves_country and not _country_change_allowed(services, action.shop):
            raise PermanentError(
                "address.country_change_not_allowed",
                f"The new address is in {target.country}, the order ships to "
                f"{current.country}; country changes are turned off.",
            )
        if action.dry_run:
            part.update(result=Part.WOULD_REISSUE, step=DONE)
            return
        part["draft_id"] = (
            _find_draft(gelato, found, order.id, target)
            or gelato.create_draft(_replacement(full, target, order.id, action.id))["id"]
        )
        part["step"] = step = DRAFTED
        save()
    if step == DRAFTED:
        if not _cancel_original(gelato, order.id, part, save):
            # Printed between our look and our cancel: the original stays, the draft goes.
            gelato.delete_draft(part["draft_id"])
            part.update(result=Part.TOO_LATE, step=DONE, reason="gelato.conflict")
            return
        part["step"] = step = ORIGINAL_CANCELLED
        save()
    if step == ORIGINAL_CANCELLED:
        _confirm(gelato, part, save)
        part.update(result=Part.REISSUED, step=DONE, replaced_by=part["draft_id"])


def _country_change_allowed(services: Services, shop: str) -> bool:
    """The shop's own setting; BRIDGE_ALLOW_COUNTRY_CHANGE for the environment's shop."""
    access = services.shops.get(shop)
    return access.allow_country_change if access else services.settings.allow_country_change


def _cancel_original(
    gelato: GelatoApi, order_id: str, part: dict[str, Any], save: Callable[[], None]
) -> bool:
    """Cancel the original; False when it is past the cut. Already cancelled counts as done.

    The cancel is written down before it is sent, and a refusal once it comes: a later
    attempt never sends it again after a 409, and after a cancel whose answer was lost it
    reads the order first and sends the cancel again only if it did not arrive.
    """
    answer = Answer(part[CANCEL_ANSWER]) if part.get(CANCEL_ANSWER) else None
    if answer is None and part.get(CANCEL_SENT):
        status = _status(gelato, order_id)
        if status in CANCELLED_STATUSES:
            return True
        if is_past_the_cut(status):
            return False
    if answer is None:
        part[CANCEL_SENT] = True
        save()
        answer = gelato.cancel(order_id)
        if answer is Answer.OK:
            return True
        part[CANCEL_ANSWER] = answer.value
        save()
    # A 409 may also answer a repeated cancel of an order an interrupted attempt cancelled:
    # only the order's status tells the two apart.
    if _status(gelato, order_id) in CANCELLED_STATUSES:
        return True
    if answer is Answer.NOT_FOUND:
        raise PermanentError("gelato.order_vanished", f"Gelato order {order_id} disappeared")
    return False


def _status(gelato: GelatoApi, order_id: str) -> str:
    """The order's fulfillment status now ("None" when Gelato does not know it)."""
    current = gelato.get_order(order_id) or {}
    return str(current.get("fulfillmentStatus"))


def _confirm(gelato: GelatoApi, part: dict[str, Any], save: Callable[[], None]) -> None:
    """Make the draft a real order; already confirmed (an interrupted attempt) is fine.

    A refusal is written down: a later attempt reads the draft instead of asking again, so a
    409 (most often: an earlier confirm whose answer was lost went through) is never re-sent.
    """
    draft_id = part["draft_id"]
    answer = Answer(part[CONFIRM_ANSWER]) if part.get(CONFIRM_ANSWER) else None
    if answer is None:
        answer = gelato.confirm_draft(draft_id)
        if answer is Answer.OK:
            return
        part[CONFIRM_ANSWER] = answer.value
        save()
    current = gelato.get_order(draft_id) or {}
    if current.get("orderType") == "order":
        return
    raise PermanentError(
        "reissue.replacement_not_confirmed",
        f"ORIGINAL CANCELLED but replacement draft {draft_id} could not be made an order "
        f"(Gelato answered {answer.value}); the customer's order is not in production.",
    )


def _find_draft(
    gelato: GelatoApi, found: list[GelatoOrder], original_id: str, target: Address
) -> str | None:
    """A draft an interrupted attempt already made for this original, found by its metadata.

    Only one with the address wanted now: a draft left by an earlier edit that never finished
    ships to that edit's address.
    """
    for candidate in found:
        if candidate.order_type != "draft":
            continue
        full = gelato.get_order(candidate.id) or {}
        metadata = {entry.get("key"): entry.get("value") for entry in full.get("metadata") or []}
        address = from_gelato(full.get("shippingAddress"))
        if metadata.get(REPLACES) == original_id and address.fingerprint() == target.fingerprint():
            return candidate.id
    return None


def _replacement(
    original: dict[str, Any], target: Address, original_id: str, action_id: str
) -> dict[str, Any]:
    """The draft that replaces an order: same items, shipment and references, new address."""
    items = [
        {
            key: item[key]
            for key in ("itemReferenceId", "productUid", "quantity", "files", "pageCount")
            if item.get(key) is not None
        }
        for item in original.get("items") or []
    ]
    kept = [
        entry
        for entry in original.get("metadata") or []
        if entry.get("key") not in (REPLACES, ACTION)
    ]
    # Gelato allows 20 metadata entries: ours come first, then as many of the original's.
    metadata = [{"key": REPLACES, "value": original_id}, {"key": ACTION, "value": action_id}]
    draft: dict[str, Any] = {
        "orderReferenceId": original.get("orderReferenceId"),
        "customerReferenceId": original.get("customerReferenceId"),
        "currency": original.get("currency"),
        "items": items,
        "shippingAddress": target.as_gelato(),
        "metadata": (metadata + kept)[:20],
    }
    method = (original.get("shipment") or {}).get("shipmentMethodUid")
    if method:
        draft["shipmentMethodUid"] = method
    return draft


def _started(action: ActionRecord) -> bool:
    """Whether an earlier attempt changed anything at Gelato for this action."""
    return any(part.get("step") for part in (action.detail.get("parts") or {}).values())


def _public(part: dict[str, Any]) -> dict[str, Any]:
    return {
        key: part[key]
        for key in ("status_found", "result", "reason", "replaced_by", "draft_id")
        if key in part
    }
