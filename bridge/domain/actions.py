"""Actions: one thing to do at Gelato for one store order, and its life cycle."""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    """What an action does at Gelato."""

    CANCEL = "cancel"
    ADDRESS_UPDATE = "address_update"


class ActionState(StrEnum):
    """Where an action is in its life: queued, running, waiting to retry, or finished."""

    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"


class ReportState(StrEnum):
    """Where writing the outcome back onto the store order stands."""

    NONE = "none"
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


def address_dedupe_key(updated_at: str | None, fingerprint: str) -> str:
    """The key that makes a second delivery of the same address edit create no new action."""
    return f"address:{updated_at or '-'}:{fingerprint}"


def cancel_dedupe_key(cancelled_at: str | None) -> str:
    """The key that makes a second delivery of the same cancellation create no new action."""
    return f"cancel:{cancelled_at or '-'}"
