"""Reading the Gelato sandbox's request log: side effects per order, waits, calls after a 409."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

REPLACES = "printbridge_replaces"


def carried_out(call: Mapping[str, Any]) -> bool:
    """Whether Gelato carried the call out, its answer seen or lost to a timeout fault.

    The sandbox logs `performed`, the status the call was carried out with (None when a fault
    refused it first); a 504 of a timeout fault hides it from the client.
    """
    return call.get("performed") == 200


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
        order_of(call) for call in calls if call["endpoint"] == "cancel" and carried_out(call)
    )


def cancels_sent(calls: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many cancel requests reached Gelato, answered or not, per Gelato order."""
    return Counter(order_of(call) for call in calls if call["endpoint"] == "cancel")


def drafts_created(calls: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many replacement drafts Gelato created, per original they replace."""
    made: Counter[str] = Counter()
    for call in calls:
        if call["endpoint"] != "create" or not carried_out(call):
            continue
        body = call.get("body") or {}
        metadata = {entry["key"]: entry["value"] for entry in body.get("metadata") or []}
        made[str(metadata.get(REPLACES, ""))] += 1
    return made


@dataclass(frozen=True)
class Wait:
    """An answer that asked to wait (Retry-After), and how long after it the next call came."""

    reference: str
    status: int
    asked: float
    waited: float


def by_reference(calls: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The calls about each store order (the sandbox logs `reference`), in order of arrival."""
    found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for call in sorted(calls, key=lambda call: float(call["at"])):
        if call.get("reference"):
            found[str(call["reference"])].append(call)
    return found


def waits_after_retry_after(calls: Iterable[Mapping[str, Any]]) -> list[Wait]:
    """For each answer carrying Retry-After, the time from it to the next call for its order.

    Measured from when the sandbox sent the answer to when the next call arrived, so the
    client's own time to receive the answer only lengthens it: a wait shorter than asked
    means the client came back early.
    """
    waits = []
    for reference, ordered in by_reference(calls).items():
        for refused, following in pairwise(ordered):
            if refused.get("retry_after") is not None:
                waits.append(
                    Wait(
                        reference,
                        int(refused["status"]),
                        float(refused["retry_after"]),
                        float(following["at"]) - float(refused["answered"]),
                    )
                )
    return waits


@dataclass(frozen=True)
class Conflict:
    """A call Gelato refused with 409, and how many calls of its kind to its order followed."""

    endpoint: str
    order: str
    # False when a timeout fault hid the 409 from the client.
    seen: bool
    repeats: int


def repeats_after_conflict(calls: Iterable[Mapping[str, Any]]) -> list[Conflict]:
    """Every call carried out with 409, and the calls to the same endpoint and order after it."""
    ordered = sorted(calls, key=lambda call: float(call["at"]))
    found = []
    for index, call in enumerate(ordered):
        if call.get("performed") != 409:
            continue
        order = order_of(call)
        repeats = sum(
            1
            for after in ordered[index + 1 :]
            if after["endpoint"] == call["endpoint"] and order_of(after) == order
        )
        found.append(Conflict(str(call["endpoint"]), order, call["status"] == 409, repeats))
    return found
