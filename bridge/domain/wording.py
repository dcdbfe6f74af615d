"""Actions in plain words for people: what happened to each Gelato order, and what would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridge.domain.outcomes import Outcome

# How a Gelato status reads after "was" / "is".
_STATUS_WORDS = {
    "in_production": "already in production",
    "printed": "already printed",
    "shipped": "already shipped",
    "in_transit": "already in transit",
    "delivered": "already delivered",
    "returned": "already returned",
    "canceled": "already cancelled",
    "cancelled": "already cancelled",
}

_HEADLINES = {
    Outcome.CANCELLED: "Cancelled",
    Outcome.ALREADY_CANCELLED: "Already cancelled",
    Outcome.PARTIALLY_CANCELLED: "Partly cancelled",
    Outcome.TOO_LATE: "Too late",
    Outcome.ADDRESS_UPDATED: "Re-addressed",
    Outcome.PARTIALLY_UPDATED: "Partly re-addressed",
    Outcome.SUPERSEDED: "Superseded",
    Outcome.NOT_FOUND: "Not found at Gelato",
    Outcome.NEEDS_ATTENTION: "Needs attention",
    Outcome.DRY_RUN: "Dry run",
}

KIND_WORDS = {"cancel": "cancellation", "address_update": "address edit"}


def status_words(status: str | None) -> str:
    """A Gelato status as words: `printed` reads "already printed"."""
    if not status:
        return "in an unknown status"
    return _STATUS_WORDS.get(status, status.replace("_", " "))


def part_sentence(position: str, part: Mapping[str, Any]) -> str:
    """What happened to one Gelato order, e.g. "Gelato order 1/2 (abc) was already printed"."""
    name = f"Gelato order {position}" if position else "Gelato order"
    name = f"{name} ({part.get('id')})" if part.get("id") else name
    status = str(part.get("status_found") or "")
    result = str(part.get("result") or "")
    sentences = {
        "cancelled": f"{name} was cancelled (it was {status or 'not yet printed'})",
        "already_cancelled": f"{name} had already been cancelled",
        "too_late": (
            f"{name} was {status_words(status)}"
            if status in _STATUS_WORDS
            else f"{name} had gone to production when asked (Gelato answered 409)"
        ),
        "would_cancel": f"would cancel {name}, now `{status}`",
        "reissued": f"{name} was re-issued to the new address as {part.get('replaced_by')}",
        "already_at_address": f"{name} already ships to the new address",
        "would_reissue": f"would re-issue {name} to the new address, now `{status}`",
        "failed": f"{name} could not be changed ({part.get('reason') or 'error'})",
    }
    return sentences.get(result, f"{name} was found {status_words(status)}")


def parts_sentences(parts: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per Gelato order, numbered "1/2", "2/2" when the order was split."""
    if len(parts) == 1:
        return [part_sentence("", parts[0])]
    return [
        part_sentence(f"{index}/{len(parts)}", part) for index, part in enumerate(parts, start=1)
    ]


def headline(outcome: str | None, state: str) -> str:
    """The outcome as a short label, or where the action is when it has none yet."""
    if outcome is None:
        return {"pending": "Waiting", "running": "Running", "retrying": "Retrying"}.get(
            state, state.capitalize()
        )
    try:
        return _HEADLINES[Outcome(outcome)]
    except ValueError:
        return outcome


def explain(
    outcome: str | None,
    state: str,
    parts: Sequence[Mapping[str, Any]],
    *,
    reason: str | None = None,
    message: str | None = None,
    reference: str | None = None,
    would_be: str | None = None,
) -> str:
    """The whole action in one line, e.g. "Too late: Gelato order 1/2 (…) was already printed."."""
    label = headline(outcome, state)
    if outcome == Outcome.DRY_RUN and would_be:
        label = f"Dry run (would be: {headline(would_be, 'done').lower()})"
    if outcome == Outcome.NOT_FOUND:
        return f"{label}: no Gelato order carries the reference {reference or '?'}."
    if outcome in (Outcome.NEEDS_ATTENTION, Outcome.SUPERSEDED) or not parts:
        detail = message or (f"reason {reason}" if reason else "")
        return f"{label}: {detail}" if detail else f"{label}."
    said = parts_sentences(parts)
    relevant = _relevant(outcome, parts, said)
    return f"{label}: {'; '.join(relevant)}."


def _relevant(
    outcome: str | None, parts: Sequence[Mapping[str, Any]], said: list[str]
) -> list[str]:
    """For a too-late or partial outcome, the parts that were too late come first."""
    if outcome not in (Outcome.TOO_LATE, Outcome.PARTIALLY_CANCELLED, Outcome.PARTIALLY_UPDATED):
        return said
    late = [
        text for part, text in zip(parts, said, strict=True) if part.get("result") == "too_late"
    ]
    rest = [
        text for part, text in zip(parts, said, strict=True) if part.get("result") != "too_late"
    ]
    return late + rest
