"""Sending one signed delivery many times, as the store does when it retries or re-emits.

A `Delivery` is signed once: every copy carries the same body and the same headers (webhook
id, event id, HMAC). A copy answered 503 is sent again after the Retry-After it was given, as
the store would, until it is answered something else.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.webhooks import delivery_headers, encode

# The store's limit on an answer; the copy's request gives up later, so a slow answer is seen.
ANSWER_TIMEOUT = 10.0
# A refused copy waits what Retry-After says, at most this long (the store waits longer).
LONGEST_WAIT = 5.0
# A copy refused this many times in a row is given up: the run would prove nothing more.
MOST_TRIES = 20


@dataclass(frozen=True)
class Delivery:
    """One delivery: a topic, a body and its headers, fixed once."""

    order_id: int
    topic: str
    body: bytes
    headers: dict[str, str]

    @classmethod
    def signed(cls, order_id: int, topic: str, payload: dict[str, Any]) -> Delivery:
        body = encode(payload)
        return cls(order_id, topic, body, delivery_headers(body, topic=topic))

    @property
    def webhook_id(self) -> str:
        return self.headers["X-Shopify-Webhook-Id"]


@dataclass
class Copy:
    """One copy of a delivery as sent: in which phase, every answer it got, and when the last
    try (the one answered, after any 503s) went out."""

    delivery: Delivery
    phase: str
    sent_at: float = 0.0
    answers: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def final(self) -> int | None:
        return self.answers[-1] if self.answers else None


class Sender:
    """Posts copies to the web tier, one HTTP session per thread."""

    def __init__(self, url: str) -> None:
        self.url = url + "/webhooks/shopify"
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, copy: Copy) -> Copy:
        """Send the copy, and again after each 503, until it is answered otherwise."""
        for _ in range(MOST_TRIES):
            copy.sent_at, started = time.time(), time.monotonic()
            try:
                response = self._session().post(
                    self.url,
                    data=copy.delivery.body,
                    # A connection per copy: a kept-alive one may be closed by the server
                    # (its keep-alive timeout) just as the next copy goes out on it; the store
                    # retries such a copy, but here it would count as unanswered.
                    headers={**copy.delivery.headers, "Connection": "close"},
                    timeout=ANSWER_TIMEOUT,
                )
                status, wait = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException as error:
                # No answer in time, or the connection refused: the store retries later.
                status, wait = 0, "1"
                copy.errors.append(f"{type(error).__name__}: {error}")
            copy.seconds.append(time.monotonic() - started)
            copy.answers.append(status)
            if status not in (0, 503):
                break
            time.sleep(min(float(wait or 1), LONGEST_WAIT))
        return copy

    def burst(self, copies: list[Copy]) -> list[Copy]:
        """Send copies from as many threads at the same instant; return them when all ended."""
        start = threading.Barrier(len(copies))

        def one(copy: Copy) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                start.wait(timeout=10)
            self.send(copy)

        threads = [threading.Thread(target=one, args=(copy,)) for copy in copies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return copies
