"""The admission gate: a few webhooks run at once, a bounded queue waits, the rest get 503."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# The paths the gate guards: the webhook receiver. Health, readiness, the API and the consoles
# are never refused here (a platform that probes /readyz must not see a busy process as dead).
GUARDED_PATHS = frozenset({"/webhooks/shopify"})
# What a refused delivery's Retry-After says: long enough for a burst to pass.
RETRY_AFTER_SECONDS = 5
# A refusal is logged at most this often per process, with the count since the last line.
LOG_EVERY_SECONDS = 10.0


class Verdict(enum.Enum):
    """What the gate decided for one request."""

    ADMITTED = "admitted"
    QUEUE_FULL = "queue_full"
    WAITED_TOO_LONG = "waited_too_long"


@dataclass
class Counts:
    """What the gate decided since the process started."""

    admitted: int = 0
    queue_full: int = 0
    waited_too_long: int = 0

    @property
    def refused(self) -> int:
        """Requests answered 503 by the gate."""
        return self.queue_full + self.waited_too_long


class Admission:
    """At most `inflight` requests run at once; `queued` more wait in arrival order, each at most
    `wait_seconds`; a request that finds the queue full is refused at once."""

    def __init__(
        self,
        inflight: int,
        queued: int,
        wait_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if inflight < 1 or queued < 0 or wait_seconds < 0:
            raise ValueError("inflight must be at least 1, queued and wait_seconds not negative")
        self.inflight = inflight
        self.queued = queued
        self.wait_seconds = wait_seconds
        self.counts = Counts()
        self._clock = clock
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._running = 0
        self._waiting = 0
        self._refused_since_log = 0
        self._logged_at = clock() - LOG_EVERY_SECONDS

    @property
    def running(self) -> int:
        """Requests admitted and not yet finished."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return self._waiting

    def enter(self) -> Verdict:
        """Take a slot, waiting in the queue if there is room; `leave()` after an ADMITTED."""
        with self._lock:
            # A newcomer never overtakes a waiting request, so the queue is served in order.
            if self._running < self.inflight and self._waiting == 0:
                return self._admit()
            if self._waiting >= self.queued:
                return self._refuse(Verdict.QUEUE_FULL)
            self._waiting += 1
            try:
                free = self._slot_free.wait_for(
                    lambda: self._running < self.inflight, timeout=self.wait_seconds
                )
            finally:
                self._waiting -= 1
            if not free:
                return self._refuse(Verdict.WAITED_TOO_LONG)
            verdict = self._admit()
            if self._running < self.inflight and self._waiting:
                # Two slots freed while one waiter was waking: pass the second one on.
                self._slot_free.notify()
            return verdict

    def leave(self) -> None:
        """Give back the slot of an admitted request, waking the longest waiter."""
        with self._lock:
            if self._running <= 0:
                raise RuntimeError("leave() without an admitted enter()")
            self._running -= 1
            self._slot_free.notify()

    def _admit(self) -> Verdict:
        self._running += 1
        self.counts.admitted += 1
        return Verdict.ADMITTED

    def _refuse(self, verdict: Verdict) -> Verdict:
        if verdict is Verdict.QUEUE_FULL:
            self.counts.queue_full += 1
        else:
            self.counts.waited_too_long += 1
        self._refused_since_log += 1
        now = self._clock()
        if now - self._logged_at >= LOG_EVERY_SECONDS:
            log.warning(
                "overloaded: refused %d webhook(s) with 503 since the last report "
                "(%d running, %d waiting; limits %d running, %d waiting, %.1f s wait)",
                self._refused_since_log,
                self._running,
                self._waiting,
                self.inflight,
                self.queued,
                self.wait_seconds,
            )
            self._refused_since_log = 0
            self._logged_at = now
        return verdict


class AdmissionMiddleware:
    """WSGI middleware that puts the guarded paths behind the gate; other paths pass through."""

    def __init__(
        self,
        app: WSGIApplication,
        gate: Admission,
        on_refused: Callable[[WSGIEnvironment], None] | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.on_refused = on_refused

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in GUARDED_PATHS:
            return self.app(environ, start_response)
        verdict = self.gate.enter()
        if verdict is not Verdict.ADMITTED:
            if self.on_refused is not None:
                self.on_refused(environ)
            return _refusal(verdict, start_response)
        try:
            # Flask runs the whole view inside this call (the body is built, the request
            # context popped), so the slot is held exactly as long as the work is done.
            return self.app(environ, start_response)
        finally:
            self.gate.leave()


def _refusal(verdict: Verdict, start_response: StartResponse) -> list[bytes]:
    # Refused before the body is read or anything is recorded: the store retries the delivery.
    body = f"overloaded ({verdict.value}), retry later".encode()
    start_response(
        "503 SERVICE UNAVAILABLE",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
        ],
    )
    return [body]
