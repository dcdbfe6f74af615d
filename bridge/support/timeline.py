"""One store order's whole story for people: deliveries, actions, attempts, calls, report-back."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from bridge.adapters.redaction import redact_body
from bridge.adapters.synclog import SyncLog
from bridge.domain.outcomes import Outcome
from bridge.domain.wording import KIND_WORDS, explain
from bridge.support.queries import Note

_DELIVERY_WORDS = {
    "accepted": "started an action",
    "repeat": "a repeat of an event already recorded: no new action",
    "stale": "stale: older than what is already recorded for the order, ignored",
    "learned": "the order's shipping address was learned",
    "ignored": "nothing to do",
    "rejected": "rejected: the body could not be read",
    "unknown_shop": "from a shop printbridge does not serve",
}


def delivery_words(delivery: dict[str, Any]) -> str:
    """What a delivery did, in words, with its reason and duplicate count."""
    words = _DELIVERY_WORDS.get(delivery["result"], str(delivery["result"]))
    if delivery.get("reason"):
        words = f"{words} ({delivery['reason']})"
    if delivery.get("duplicates"):
        words = f"{words}; delivered {delivery['duplicates']} more time(s), duplicates ignored"
    return words


def pretty(body: str | None) -> str | None:
    """An API body for reading: secret-looking fields masked, JSON indented."""
    masked = redact_body(body)
    if masked is None:
        return None
    with suppress(ValueError):
        return json.dumps(json.loads(masked), indent=2, ensure_ascii=False)
    return masked


def story(
    synclog: SyncLog,
    shop: str,
    order_id: str,
    notes_of: Callable[[list[str]], dict[str, Note]],
) -> dict[str, Any] | None:
    """The sync-log document of the order, with words added for people; None if unknown."""
    document = synclog.order(shop, order_id)
    if document is None:
        return None
    for delivery in document["deliveries"]:
        delivery["words"] = delivery_words(delivery)
    notes = notes_of([action["id"] for action in document["actions"]])
    for action in document["actions"]:
        _explain_action(action, notes.get(action["id"]))
    document["order_name"] = next(
        (action["order_name"] for action in document["actions"] if action["order_name"]), None
    )
    document["gelato_order_ids"] = gelato_order_ids(document["actions"])
    latest = document["actions"][-1] if document["actions"] else None
    document["summary"] = latest["explained"] if latest else "No action was started for it."
    return document


def gelato_order_ids(actions: list[dict[str, Any]]) -> list[str]:
    """Every Gelato order id the order's actions found or made, in the order first seen."""
    found: dict[str, None] = {}
    for action in actions:
        for part in action["gelato_orders"]:
            for key in ("id", "replaced_by", "draft_id"):
                if part.get(key):
                    found[str(part[key])] = None
    return list(found)


def _explain_action(action: dict[str, Any], note: Note | None) -> None:
    action["kind_words"] = KIND_WORDS.get(action["kind"], action["kind"])
    action["explained"] = explain(
        action["outcome"],
        action["state"],
        action["gelato_orders"],
        reason=action["reason"],
        message=action["message"],
        reference=action["reference"],
        would_be=action["would_be"],
    )
    action["note"] = note
    tag = Outcome(action["outcome"]).tag if action["outcome"] else None
    action["report"]["tag"] = tag
    for call in action["api_calls"]:
        call["request_pretty"] = pretty(call["request_body"])
        call["response_pretty"] = pretty(call["response_body"])
