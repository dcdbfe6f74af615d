"""What one attempt at an action comes to: a final result, or a retry later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.domain.outcomes import Outcome


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
