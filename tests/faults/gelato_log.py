"""Reading the Gelato sandbox's request log: side effects per order, waits, calls after a 409."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

REPLACES = "printbridge_replaces"
# A call Gelato carried out: answered 200, or performed and then timed out (the sandbox's
# timeout fault answers 504 after the change). 5xx and 429 faults answer before any change.
APPLIED = frozenset({200, 504})
# A refused call whose answer carries the sandbox's Retry-After.
WAIT_ASKED = frozenset({429, 500, 502, 503})


def order_of(call: Mapping[str, Any]) -> str:
    """The Gelato order id in a call's path (`/v4/orders/<id>` or `<id>:cancel`), or ""."""
    path = str(call["path"])
    prefix = "/v4/orders/"
    if not path.startswith(prefix):
        return ""
    return path[len(prefix) :].split(":")[0]


def cancels_applied(calls: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many cancels Gelato carried out, per Gelato order."""
    return Counter(
        order_of(call)
        for call in calls
        if call["endpoint"] == "cancel" and call["status"] in APPLIED
    )


def cancels_sent(calls: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many cancel requests reached Gelato, answered or not, per Gelato order."""
    return Counter(order_of(call) for call in calls if call["endpoint"] == "cancel")


def drafts_created(calls: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many replacement drafts Gelato created, per original they replace."""
    made: Counter[str] = Counter()
    for call in calls:
        if call["endpoint"] != "create" or call["status"] not in APPLIED:
            continue
        body = call.get("body") or {}
        metadata = {entry["key"]: entry["value"] for entry in body.get("metadata") or []}
        made[str(metadata.get(REPLACES, ""))] += 1
    return made


def reference_of(call: Mapping[str, Any], references: Mapping[str, str]) -> str | None:
    """The store order a call was about: from its body, or its Gelato order id's reference."""
    body = call.get("body")
    if call["endpoint"] == "search" and isinstance(body, dict):
        found = body.get("orderReferenceIds") or []
        return str(found[0]) if len(found) == 1 else None
    if call["endpoint"] == "create" and isinstance(body, dict):
        return str(body.get("orderReferenceId"))
    return references.get(order_of(call))


@dataclass(frozen=True)
class Wait:
    """A refused call asking to wait, and how long after it the next call for its order came."""

    reference: str
    status: int
    asked: float
    waited: float


def waits_after_refusals(
    calls: list[Mapping[str, Any]], references: Mapping[str, str], retry_after: float
) -> list[Wait]:
    """For each call refused with Retry-After, the time until the next call for that order.

    `at` is when a call arrived; the refusal was answered after the sandbox's latency, so the
    wait measured here is Retry-After plus that latency at the least.
    """
    by_reference: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for call in sorted(calls, key=lambda call: float(call["at"])):
        reference = reference_of(call, references)
        if reference:
            by_reference[reference].append(call)
    waits = []
    for reference, ordered in by_reference.items():
        for refused, following in pairwise(ordered):
            if refused["status"] in WAIT_ASKED:
                waits.append(
                    Wait(
                        reference,
                        int(refused["status"]),
                        retry_after,
                        float(following["at"]) - float(refused["at"]),
                    )
                )
    return waits


def cancels_after_conflict(calls: list[Mapping[str, Any]]) -> dict[str, int]:
    """Per Gelato order refused with 409 on a cancel, the cancel requests sent after it."""
    ordered = sorted(calls, key=lambda call: float(call["at"]))
    later: dict[str, int] = {}
    for index, call in enumerate(ordered):
        if call["endpoint"] == "cancel" and call["status"] == 409:
            order = order_of(call)
            later[order] = sum(
                1
                for after in ordered[index + 1 :]
                if after["endpoint"] == "cancel" and order_of(after) == order
            )
    return later
