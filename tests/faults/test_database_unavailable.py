"""Guarantee 1b: with the database unavailable, webhooks are answered 503 (the store retries),
none 200, and nothing is lost.

The web tier (gunicorn as the Procfile starts it) and two workers reach PostgreSQL through a TCP
proxy (db_proxy.py). Six senders deliver signed `orders/cancelled` webhooks, each for an order
seeded in the Gelato sandbox, and send a delivery answered 503 again a second later, as a store
does. In the middle of the run the database is cut twice for CUT seconds: first refused (every
open connection closed, the port closed, as when the server dies), then blackholed (every open
connection closed, new ones accepted and never answered, as when the server or the network
hangs). Each cut is then restored.

Every delivery sent and answered while the database was cut must be answered 503, none 200 and
none 500; every answer must come within Shopify's 5 s; after the restore the retried deliveries
must be answered 200, every delivery answered 200 must end with its action `cancelled`, and the
Gelato sandbox must see one cancel per order, none twice. Readiness answers 503 during each cut.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.db_proxy import DatabaseProxy, Mode, database_proxy
from tests.faults.gelato_log import cancels_sent
from tests.faults.lease_stack import Stack, running_stack, write_figures
from tests.support.webhooks import delivery_headers, encode, order_payload

pytestmark = pytest.mark.faults

WORKERS = 2
SENDERS = 6
FIRST = 7_500_000
# More orders are seeded than the senders can use in the run; each new delivery takes one.
ORDERS = 300
# Between two new deliveries, each sender waits this long: about 12 a second in all.
PACE = 0.4
# The store sends a delivery answered 503 again after this long.
STORE_RETRY = 1.0
# The run, in seconds from the first delivery: open, cut (refused), open, cut (blackholed),
# open; then no new delivery is sent, and the ones answered 503 are retried until answered.
OPEN_BEFORE, CUT, OPEN_BETWEEN, OPEN_AFTER = 3.0, 5.0, 4.0, 3.0
SENDING_DEADLINE = 60.0
FINISH_DEADLINE = 90.0
# Shopify's limit on an answer.
ANSWER_LIMIT = 5.0
CLIENT_TIMEOUT = 10.0


@dataclass
class Attempt:
    """One HTTP request of a delivery: when it was sent and answered, and how."""

    order_id: int
    sent: float
    answered: float
    status: int | None
    body: str

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


@dataclass
class Window:
    """A cut of the database, from the moment it was in force to the moment it was lifted."""

    mode: Mode
    start: float
    end: float = float("inf")
    readiness: tuple[int, float] | None = None

    def holds(self, attempt: Attempt) -> bool:
        """Whether the attempt was sent and answered while the database was cut."""
        return self.start <= attempt.sent and attempt.answered <= self.end

    def overlaps(self, attempt: Attempt) -> bool:
        return attempt.sent < self.end and attempt.answered > self.start


@dataclass
class Run:
    """What the senders share: new orders, deliveries to send again, and every attempt."""

    url: str
    orders: Any = field(default_factory=lambda: itertools.count(FIRST))
    retries: list[tuple[float, int]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    answered_200: set[int] = field(default_factory=set)
    sending: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def next_delivery(self) -> tuple[int, bool] | None:
        """A delivery due again, or a new one while the run sends new ones (and whether it is
        new); None once nothing is left to send."""
        while True:
            now = time.monotonic()
            with self.lock:
                due = min(self.retries, default=None)
                if due is not None and due[0] <= now:
                    self.retries.remove(due)
                    return due[1], False
                if self.sending.is_set():
                    order_id = next(self.orders)
                    if order_id < FIRST + ORDERS:
                        return order_id, True
                    self.sending.clear()
                if not self.retries:
                    return None
            time.sleep(0.05)

    def send(self, order_id: int) -> Attempt:
        """Deliver the order's cancellation once, with the same webhook id every time."""
        http = getattr(self.local, "http", None)
        if http is None:
            http = self.local.http = requests.Session()
        body = encode(order_payload(order_id))
        headers = delivery_headers(body, webhook_id=f"db-{order_id}")
        sent = time.monotonic()
        try:
            response = http.post(
                self.url + "/webhooks/shopify", data=body, headers=headers, timeout=CLIENT_TIMEOUT
            )
            status, text = response.status_code, response.text[:80]
        except requests.RequestException as error:
            status, text = None, type(error).__name__
        attempt = Attempt(order_id, sent, time.monotonic(), status, text)
        with self.lock:
            self.attempts.append(attempt)
            if status == 200:
                self.answered_200.add(order_id)
            else:
                self.retries.append((attempt.answered + STORE_RETRY, order_id))
        return attempt

    def sender(self) -> None:
        while (delivery := self.next_delivery()) is not None:
            order_id, new = delivery
            self.send(order_id)
            if new:
                time.sleep(PACE)


def _readiness(url: str) -> tuple[int, float]:
    started = time.monotonic()
    response = requests.get(url + "/readyz", timeout=CLIENT_TIMEOUT)
    return response.status_code, time.monotonic() - started


def _cut_and_restore(run: Run, proxy: DatabaseProxy, windows: list[Window]) -> None:
    """The run's timeline: open, cut refused, open, cut blackholed, open, stop sending."""
    time.sleep(OPEN_BEFORE)
    for mode, then_open in ((Mode.REFUSE, OPEN_BETWEEN), (Mode.BLACKHOLE, OPEN_AFTER)):
        proxy.cut(mode)
        window = Window(mode, time.monotonic())
        windows.append(window)
        time.sleep(1.0)
        window.readiness = _readiness(run.url)
        time.sleep(max(0.0, window.start + CUT - time.monotonic()))
        window.end = time.monotonic()
        proxy.restore()
        time.sleep(then_open)
    run.sending.clear()


def _finished(stack: Stack, expected: set[int]) -> list[dict[str, Any]] | None:
    found = stack.actions()
    done = {int(a["order_id"]) for a in found if a["outcome"] and a["report_state"] != "pending"}
    return found if expected <= done else None


def test_database_cut_is_answered_503_and_nothing_answered_200_is_lost(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    began = time.monotonic()
    with (
        database_proxy() as proxy,
        running_stack(
            tmp_path,
            redis_url,
            proxy.url(postgres_url),
            WORKERS,
            procfile_web=True,
            BRIDGE_RETRY_BASE_SECONDS="0.5",
            BRIDGE_RETRY_CAP_SECONDS="2",
            BRIDGE_WORKER_LEASE_SECONDS="5",
            BRIDGE_NOT_FOUND_GRACE_SECONDS="60",
        ) as stack,
    ):
        for order_id in range(FIRST, FIRST + ORDERS):
            stack.gelato.post(
                "/_sandbox/orders", {"orderReferenceId": str(order_id), "status": "passed"}
            )
        run = Run(stack.url)
        windows: list[Window] = []
        run.sending.set()
        started = time.monotonic()
        with ThreadPoolExecutor(SENDERS + 1) as pool:
            senders = [pool.submit(run.sender) for _ in range(SENDERS)]
            timeline = pool.submit(_cut_and_restore, run, proxy, windows)
            timeline.result(timeout=SENDING_DEADLINE)
            for sender in senders:
                sender.result(timeout=SENDING_DEADLINE)
        sent_for = time.monotonic() - started

        delivered = set(run.answered_200)
        actions = None
        finish_by = time.monotonic() + FINISH_DEADLINE
        while actions is None and time.monotonic() < finish_by:
            time.sleep(1.0)
            actions = _finished(stack, delivered)
        took = time.monotonic() - started
        assert actions is not None, f"not every action ended within {FINISH_DEADLINE}s"
        calls = stack.gelato.get("/_sandbox/requests")
        proxy_counts = proxy.counts
        jobs_retried = sum(
            log.read_text(errors="replace").count("database unreachable")
            for log in stack.logs.glob("worker-*.log")
        )

    attempts = run.attempts
    sent = {a.order_id for a in attempts}
    during = [a for a in attempts if any(w.holds(a) for w in windows)]
    straddling = [a for a in attempts if any(w.overlaps(a) for w in windows) and a not in during]
    outcomes = {int(a["order_id"]): a["outcome"] for a in actions}
    per_order = Counter(int(a["order_id"]) for a in actions)
    lost = sorted((sent - delivered) | {o for o in delivered if outcomes.get(o) != "cancelled"})
    cancels = cancels_sent(calls)
    twice = {order: count for order, count in cancels.items() if count > 1}
    slowest = max(a.seconds for a in attempts)

    def during_mode(mode: Mode) -> list[Attempt]:
        return [a for a in during if any(w.mode is mode and w.holds(a) for w in windows)]

    figures = {
        "deliveries_sent": len(sent),
        "requests": len(attempts),
        "answered_200": len(delivered),
        "statuses": {
            str(k): v for k, v in sorted(Counter(a.status for a in attempts).items(), key=str)
        },
        "answered_503_during_cut": sum(1 for a in during if a.status == 503),
        "answered_503_during_cut_by_reason": dict(
            Counter(a.body for a in during if a.status == 503)
        ),
        "answered_200_during_cut": sum(1 for a in during if a.status == 200),
        "requests_during_refused_cut": len(during_mode(Mode.REFUSE)),
        "requests_during_blackholed_cut": len(during_mode(Mode.BLACKHOLE)),
        "requests_across_a_cut_edge": len(straddling),
        "readiness_during_cuts": {
            w.mode.value: {"status": w.readiness[0], "seconds": round(w.readiness[1], 2)}
            for w in windows
            if w.readiness
        },
        "cut_seconds": {w.mode.value: round(w.end - w.start, 1) for w in windows},
        "database_connections_cut": proxy_counts.cut,
        "connections_blackholed": proxy_counts.blackholed,
        "job_runs_retried_for_the_database": jobs_retried,
        "lost": len(lost),
        "gelato_orders_cancelled_twice": len(twice),
        "max_answer_seconds": round(slowest, 2),
        "max_answer_seconds_blackholed": round(
            max((a.seconds for a in during_mode(Mode.BLACKHOLE)), default=0.0), 2
        ),
        "seconds_sending": round(sent_for, 1),
        "seconds_to_finish_all": round(took, 1),
        "duration_seconds": round(time.monotonic() - began, 1),
    }
    write_figures("database_unavailable", figures)

    assert {a.status for a in attempts} <= {200, 503}, "only 200 and 503 may be answered"
    assert slowest < ANSWER_LIMIT
    assert [a for a in during if a.status != 503] == []
    # The run proved something only if each cut met deliveries (and jobs, in the figures).
    assert len(during_mode(Mode.REFUSE)) >= 3, "the refused cut met too few deliveries"
    assert len(during_mode(Mode.BLACKHOLE)) >= 3, "the blackholed cut met too few deliveries"
    assert [w.readiness[0] if w.readiness else None for w in windows] == [503, 503]
    assert sent == delivered, "a delivery was never answered 200 after the database came back"
    assert per_order == Counter(delivered), "each delivery must make exactly one action"
    assert lost == []
    assert twice == {}, "a Gelato order received more than one cancel"
    assert sum(cancels.values()) == len(delivered)
