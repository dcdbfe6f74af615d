"""Retry rules: how HTTP answers are sorted, Retry-After, and capped exponential backoff."""

from __future__ import annotations

import pytest

from bridge.domain.retry import Answer, backoff_delay, classify_status, parse_retry_after


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.OK),
        (201, Answer.OK),
        (204, Answer.OK),
        (400, Answer.PERMANENT),
        (401, Answer.PERMANENT),
        (403, Answer.PERMANENT),
        (404, Answer.NOT_FOUND),
        (408, Answer.TRANSIENT),
        (409, Answer.CONFLICT),
        (422, Answer.PERMANENT),
        (429, Answer.TRANSIENT),
        (500, Answer.TRANSIENT),
        (502, Answer.TRANSIENT),
        (503, Answer.TRANSIENT),
        (504, Answer.TRANSIENT),
    ],
)
def test_classify_status(status: int, answer: Answer) -> None:
    assert classify_status(status) is answer


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_backoff_grows_exponentially_from_the_base() -> None:
    delays = [backoff_delay(n, base=2.0, cap=1000.0, jitter=0.0) for n in range(1, 6)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_backoff_first_attempt_and_attempt_zero_start_at_the_base() -> None:
    assert backoff_delay(0, base=2.0, cap=1000.0, jitter=0.0) == 1.0
    assert backoff_delay(1, base=2.0, cap=1000.0, jitter=0.0) == 1.0


def test_backoff_is_capped() -> None:
    assert backoff_delay(30, base=2.0, cap=300.0, jitter=0.0) == 150.0
    assert backoff_delay(30, base=2.0, cap=300.0, jitter=0.999999) == pytest.approx(300.0, 1e-5)


def test_backoff_stays_capped_for_very_high_attempt_numbers() -> None:
    assert backoff_delay(2_000, base=2.0, cap=300.0, jitter=0.5) == 225.0
    assert backoff_delay(10**9, base=2.0, cap=300.0, jitter=0.0) == 150.0


def test_backoff_with_jitter_zero_waits_half_the_delay() -> None:
    assert backoff_delay(4, base=2.0, cap=1000.0, jitter=0.0) == 8.0


def test_backoff_with_jitter_near_one_waits_nearly_the_full_delay() -> None:
    delay = backoff_delay(4, base=2.0, cap=1000.0, jitter=0.999999)

    assert 15.99 < delay < 16.0


def test_backoff_jitter_spreads_the_second_half_linearly() -> None:
    assert backoff_delay(4, base=2.0, cap=1000.0, jitter=0.5) == 12.0


def test_retry_after_is_a_floor_above_the_backoff() -> None:
    assert backoff_delay(1, base=2.0, cap=300.0, jitter=0.0, retry_after=30.0) == 30.0


def test_retry_after_below_the_backoff_does_not_shorten_it() -> None:
    assert backoff_delay(5, base=2.0, cap=300.0, jitter=0.0, retry_after=1.0) == 16.0


def test_retry_after_applies_even_when_the_backoff_is_zero() -> None:
    assert backoff_delay(3, base=0.0, cap=0.0, jitter=0.7, retry_after=5.0) == 5.0
