"""When to retry, and how long to wait: pure rules over HTTP answers and attempt counts."""

from __future__ import annotations

from enum import StrEnum


class Answer(StrEnum):
    """How an HTTP answer from Gelato or the store is to be treated."""

    OK = "ok"
    TRANSIENT = "transient"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    PERMANENT = "permanent"


def classify_status(status: int) -> Answer:
    """Sort an HTTP status into what printbridge does about it."""
    if 200 <= status < 300:
        return Answer.OK
    if status == 409:
        return Answer.CONFLICT
    if status == 404:
        return Answer.NOT_FOUND
    if status in (408, 425, 429) or status >= 500:
        return Answer.TRANSIENT
    return Answer.PERMANENT


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds; None when absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before attempt `attempt + 1`: capped exponential backoff with jitter.

    `jitter` is a number in [0, 1) from the caller's random source; half the delay is fixed and
    half is spread by it, so concurrent retries do not arrive together. A Retry-After from the
    server is a floor: printbridge never comes back sooner than it was told to.
    """
    # The exponent is bounded so a huge attempt number cannot overflow a float.
    exponential = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))
    delay = exponential / 2 + exponential / 2 * jitter
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
