"""Outcomes of an action, their store tags, and how per-order results add up to one outcome."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Outcome(StrEnum):
    """The one final result of an action (DESIGN §5)."""

    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    PARTIALLY_CANCELLED = "partially_cancelled"
    TOO_LATE = "too_late"
    ADDRESS_UPDATED = "address_updated"
    PARTIALLY_UPDATED = "partially_updated"
    SUPERSEDED = "superseded"
    NOT_FOUND = "not_found"
    NEEDS_ATTENTION = "needs_attention"
    DRY_RUN = "dry_run"

    @property
    def tag(self) -> str | None:
        """The tag written onto the store order, or None where none is written."""
        if self in (Outcome.SUPERSEDED, Outcome.DRY_RUN):
            return None
        return "gelato:" + self.value.replace("_", "-")

    @property
    def sentence(self) -> str:
        """The outcome in plain words for people reading the sync log."""
        return _SENTENCES[self]


_SENTENCES = {
    Outcome.CANCELLED: "Cancelled at Gelato.",
    Outcome.ALREADY_CANCELLED: "Gelato had already cancelled it.",
    Outcome.PARTIALLY_CANCELLED: (
        "Partly cancelled: some Gelato orders were already in production."
    ),
    Outcome.TOO_LATE: "Too late: already in production, printed or shipped at Gelato.",
    Outcome.ADDRESS_UPDATED: "The Gelato order now ships to the new address.",
    Outcome.PARTIALLY_UPDATED: (
        "Partly re-addressed: some Gelato orders were already in production."
    ),
    Outcome.SUPERSEDED: "Replaced by a newer address edit of the same order.",
    Outcome.NOT_FOUND: "No Gelato order carries this order's reference.",
    Outcome.NEEDS_ATTENTION: "Needs attention: printbridge could not finish it.",
    Outcome.DRY_RUN: "Dry run: logged what would have been done, changed nothing.",
}

# Statuses from reference/gelato.md §3.3, grouped by what a cancel can still do.
PAST_THE_CUT = frozenset(
    {"in_production", "printed", "shipped", "in_transit", "delivered", "returned"}
)
CANCELLED_STATUSES = frozenset({"canceled", "cancelled"})
BEFORE_THE_CUT = frozenset(
    {
        "created",
        "uploading",
        "digitizing",
        "passed",
        "pending_approval",
        "pending_personalization",
        "not_connected",
        "on_hold",
        "failed",
        "draft",
    }
)


class Part(StrEnum):
    """What happened to one Gelato order of a store order."""

    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"
    TOO_LATE = "too_late"
    WOULD_CANCEL = "would_cancel"
    REISSUED = "reissued"
    ALREADY_AT_ADDRESS = "already_at_address"
    WOULD_REISSUE = "would_reissue"
    FAILED = "failed"


class CancelPlan(StrEnum):
    """What to do with one Gelato order, judged from the status found."""

    CANCEL = "cancel"
    NOTHING_ALREADY_CANCELLED = "already_cancelled"
    NOTHING_TOO_LATE = "too_late"


def plan_cancel(status: str) -> CancelPlan:
    """Decide from a Gelato status whether a cancel is worth sending.

    A status not known to be past the cut is tried: Gelato's answer (200 or 409) settles it.
    """
    if status in CANCELLED_STATUSES:
        return CancelPlan.NOTHING_ALREADY_CANCELLED
    if status in PAST_THE_CUT:
        return CancelPlan.NOTHING_TOO_LATE
    return CancelPlan.CANCEL


def is_past_the_cut(status: str) -> bool:
    """Whether nothing can be changed any more for an order in this status."""
    return status in PAST_THE_CUT


def aggregate_cancel(parts: Iterable[Part]) -> Outcome:
    """Add up the results for every Gelato order of one store order into one outcome."""
    found = set(parts)
    if not found:
        return Outcome.NOT_FOUND
    if Part.FAILED in found:
        return Outcome.NEEDS_ATTENTION
    # In a dry run a cancel that would have been sent counts as done: the caller reports the
    # outcome as dry_run and keeps this one as what would have happened.
    done = found & {Part.CANCELLED, Part.ALREADY_CANCELLED, Part.WOULD_CANCEL}
    if Part.TOO_LATE in found:
        return Outcome.PARTIALLY_CANCELLED if done else Outcome.TOO_LATE
    if done == {Part.ALREADY_CANCELLED}:
        return Outcome.ALREADY_CANCELLED
    return Outcome.CANCELLED


def aggregate_address(parts: Iterable[Part]) -> Outcome:
    """Add up the re-addressing of every Gelato order of one store order into one outcome."""
    found = set(parts)
    live = found - {Part.ALREADY_CANCELLED}
    if not found:
        return Outcome.NOT_FOUND
    if not live:
        return Outcome.ALREADY_CANCELLED
    if Part.FAILED in live:
        return Outcome.NEEDS_ATTENTION
    done = live & {Part.REISSUED, Part.ALREADY_AT_ADDRESS, Part.WOULD_REISSUE}
    if Part.TOO_LATE in live:
        return Outcome.PARTIALLY_UPDATED if done else Outcome.TOO_LATE
    return Outcome.ADDRESS_UPDATED
