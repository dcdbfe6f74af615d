"""Errors of the core, each with a machine-readable reason kept in the sync log."""

from __future__ import annotations


class BridgeError(Exception):
    """An error with a stable `reason` code (like `gelato.conflict`) and a human message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PayloadError(BridgeError):
    """A webhook body that is signed correctly but cannot be acted on."""


class TransientError(BridgeError):
    """A failure worth retrying: timeouts, connection errors, 5xx, 429, an order not there yet."""

    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(reason, message)
        self.retry_after = retry_after


class Unavailable(BridgeError):
    """The database or the queue could not be reached: the caller should answer 503."""


class PermanentError(BridgeError):
    """A failure no retry will mend: a bad key, a rejected request."""
