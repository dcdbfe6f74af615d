"""The admission gate: slots, the bounded queue served in order, the wait bound, the 503."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from webhooks.admission import (
    RETRY_AFTER_SECONDS,
    Admission,
    AdmissionMiddleware,
    Verdict,
)


class Waiter(threading.Thread):
    """A request waiting at the gate in its own thread, as a gunicorn thread does."""

    def __init__(self, gate: Admission) -> None:
        super().__init__(daemon=True)
        self.gate = gate
        self.verdict: Verdict | None = None
        self.waited = 0.0
        self.admitted_at = 0.0

    def run(self) -> None:
        began = time.monotonic()
        self.verdict = self.gate.enter()
        self.admitted_at = time.monotonic()
        self.waited = self.admitted_at - began


def eventually(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def queue_up(gate: Admission, count: int) -> list[Waiter]:
    """Start `count` waiters one after the other, each in the queue before the next comes."""
    waiters = []
    for _ in range(count):
        waiter = Waiter(gate)
        already = gate.waiting
        waiter.start()
        eventually(lambda w=already: gate.waiting == w + 1)  # type: ignore[misc]
        waiters.append(waiter)
    return waiters


def test_admits_up_to_the_slots_then_refuses_at_once_when_there_is_no_queue() -> None:
    gate = Admission(inflight=2, queued=0, wait_seconds=5)

    first, second = gate.enter(), gate.enter()
    began = time.monotonic()
    third = gate.enter()

    assert (first, second, third) == (Verdict.ADMITTED, Verdict.ADMITTED, Verdict.QUEUE_FULL)
    assert time.monotonic() - began < 0.1
    assert gate.running == 2
    gate.leave()
    assert gate.enter() is Verdict.ADMITTED


def test_a_full_queue_refuses_newcomers_at_once_while_the_queued_keep_waiting() -> None:
    gate = Admission(inflight=1, queued=2, wait_seconds=5)
    assert gate.enter() is Verdict.ADMITTED
    waiters = queue_up(gate, 2)

    began = time.monotonic()
    assert gate.enter() is Verdict.QUEUE_FULL
    assert time.monotonic() - began < 0.1
    assert gate.waiting == 2
    gate.leave()
    for waiter in waiters:
        gate_leave_after(waiter, gate)
    assert [w.verdict for w in waiters] == [Verdict.ADMITTED, Verdict.ADMITTED]
    assert gate.counts.admitted == 3
    assert gate.counts.queue_full == 1


def gate_leave_after(waiter: Waiter, gate: Admission) -> None:
    waiter.join(timeout=2)
    assert not waiter.is_alive()
    gate.leave()


def test_the_queue_is_served_in_arrival_order() -> None:
    gate = Admission(inflight=1, queued=3, wait_seconds=5)
    assert gate.enter() is Verdict.ADMITTED
    waiters = queue_up(gate, 3)

    gate.leave()
    for waiter in waiters:
        gate_leave_after(waiter, gate)

    admitted_at = [w.admitted_at for w in waiters]
    assert admitted_at == sorted(admitted_at)
    assert gate.running == 0


def test_a_newcomer_does_not_overtake_a_waiting_request() -> None:
    gate = Admission(inflight=1, queued=1, wait_seconds=5)
    assert gate.enter() is Verdict.ADMITTED
    (waiter,) = queue_up(gate, 1)

    assert gate.enter() is Verdict.QUEUE_FULL
    gate.leave()
    gate_leave_after(waiter, gate)
    assert waiter.verdict is Verdict.ADMITTED


def test_a_request_that_waits_too_long_is_refused_after_the_wait_bound() -> None:
    gate = Admission(inflight=1, queued=4, wait_seconds=0.2)
    assert gate.enter() is Verdict.ADMITTED

    (waiter,) = queue_up(gate, 1)
    waiter.join(timeout=2)

    assert waiter.verdict is Verdict.WAITED_TOO_LONG
    assert 0.15 < waiter.waited < 1.0
    assert gate.waiting == 0
    assert gate.counts.waited_too_long == 1
    assert gate.counts.refused == 1


def test_two_slots_freed_together_admit_two_waiters_without_waiting_out_the_bound() -> None:
    gate = Admission(inflight=2, queued=2, wait_seconds=5)
    assert gate.enter() is gate.enter() is Verdict.ADMITTED
    waiters = queue_up(gate, 2)

    gate.leave()
    gate.leave()
    for waiter in waiters:
        waiter.join(timeout=2)

    assert [w.verdict for w in waiters] == [Verdict.ADMITTED, Verdict.ADMITTED]
    assert max(w.waited for w in waiters) < 1.0
    assert gate.running == 2


def test_leave_without_a_slot_is_an_error() -> None:
    gate = Admission(inflight=1, queued=0, wait_seconds=0)

    with pytest.raises(RuntimeError, match="leave"):
        gate.leave()


@pytest.mark.parametrize(("inflight", "queued", "wait"), [(0, 1, 1.0), (1, -1, 1.0), (1, 1, -1)])
def test_impossible_bounds_are_refused(inflight: int, queued: int, wait: float) -> None:
    with pytest.raises(ValueError, match="inflight"):
        Admission(inflight=inflight, queued=queued, wait_seconds=wait)


def test_refusals_are_logged_at_most_once_per_period_with_their_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    gate = Admission(inflight=1, queued=0, wait_seconds=0, clock=lambda: now[0])
    gate.enter()

    for _ in range(3):
        gate.enter()
    now[0] += 10
    gate.enter()

    lines = [r.getMessage() for r in caplog.records if r.name == "webhooks.admission"]
    assert len(lines) == 2
    assert lines[0].startswith("overloaded: refused 1 webhook(s)")
    assert lines[1].startswith("overloaded: refused 3 webhook(s)")


class Recorder:
    """A WSGI app that records its calls and can fail."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail
        self.running_seen: list[int] = []
        self.gate: Admission | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls.append(environ["PATH_INFO"])
        if self.gate is not None:
            self.running_seen.append(self.gate.running)
        if self.fail:
            raise RuntimeError("view failed")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]


def call(app: Any, path: str) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "POST"}, start_response))
    return answer["status"], answer["headers"], body


def test_middleware_holds_a_slot_while_the_webhook_view_runs_and_gives_it_back() -> None:
    gate = Admission(inflight=1, queued=0, wait_seconds=0)
    inner = Recorder()
    inner.gate = gate

    status, _, body = call(AdmissionMiddleware(inner, gate), "/webhooks/shopify")

    assert (status, body) == ("200 OK", b"ok")
    assert inner.running_seen == [1]
    assert gate.running == 0


def test_middleware_answers_503_with_retry_after_without_calling_the_view_when_full() -> None:
    gate = Admission(inflight=1, queued=0, wait_seconds=0)
    inner = Recorder()
    gate.enter()

    status, headers, body = call(AdmissionMiddleware(inner, gate), "/webhooks/shopify")

    assert status.startswith("503")
    assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert headers["Content-Length"] == str(len(body))
    assert b"overloaded" in body
    assert inner.calls == []


def test_middleware_lets_health_and_other_routes_through_a_full_gate() -> None:
    gate = Admission(inflight=1, queued=0, wait_seconds=0)
    inner = Recorder()
    gate.enter()
    middleware = AdmissionMiddleware(inner, gate)

    answers = [call(middleware, path)[0] for path in ("/readyz", "/healthz", "/api/actions")]

    assert answers == ["200 OK"] * 3
    assert inner.calls == ["/readyz", "/healthz", "/api/actions"]


def test_middleware_gives_the_slot_back_when_the_view_raises() -> None:
    gate = Admission(inflight=1, queued=0, wait_seconds=0)

    with pytest.raises(RuntimeError, match="view failed"):
        call(AdmissionMiddleware(Recorder(fail=True), gate), "/webhooks/shopify")

    assert gate.running == 0
    assert gate.enter() is Verdict.ADMITTED
