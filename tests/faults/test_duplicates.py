"""Guarantee 2: nothing is done twice, however often and whenever a delivery comes again.

150 cancellations (30 of them split into two Gelato orders) and 30 address edits, on four worker
processes, PostgreSQL and the web tier in gthread processes as in production. Every delivery is
sent 10 times with the same webhook id, event id and body: four copies at once from parallel
senders, two spread over the next seconds, two as soon as its action is seen running, and two
after the action ended and was reported. For half the address edits the store also re-emits the
event under a new webhook id (same body), sent 10 times the same way, at the same instant as the
first delivery for some, seconds later for others.

Every copy must be answered 200 (a 503 from the admission gate is retried, as the store does);
each order must get exactly one action with the expected outcome; the Gelato sandbox must see at
most one cancel per Gelato order and at most one replacement draft per re-issued original; the
store sandbox must see exactly one tagsAdd per order.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.adapters.tables import actions, attempts, deliveries
from tests.conftest import SHOP
from tests.faults.copies import Copy, Delivery, Sender
from tests.faults.gelato_log import cancels_sent, drafts_created
from tests.faults.lease_stack import CREATED_AT, EDITED_AT, running_stack, write_figures
from tests.support.webhooks import (
    GELATO_OLD_ADDRESS,
    NEW_ADDRESS,
    OLD_ADDRESS,
    order_payload,
    updated_payload,
)

pytestmark = pytest.mark.faults

WORKERS = 4
SINGLE, SPLIT, ADDRESSES = 120, 30, 30
FIRST = 7_300_000
# Copies of each delivery: at once, spread over SPREAD seconds, while running, after the end.
BURST, SPREAD_COPIES, RUNNING_COPIES, AFTER_COPIES = 4, 2, 2, 2
COPIES = BURST + SPREAD_COPIES + RUNNING_COPIES + AFTER_COPIES
SPREAD = 4.0
# First copies of the deliveries start over this many seconds.
ARRIVALS = 15.0
# Each Gelato call takes this long, so that actions run long enough to be caught running.
GELATO_LATENCY = 0.15
POLL = 0.3
DEADLINE = 150.0
# Shopify's limit on an answer.
ANSWER_LIMIT = 5.0
# gthread processes with threads for the admission gate, as gunicorn.conf.py configures them.
WEB = "--worker-class gthread --threads 22"


@dataclass(frozen=True)
class Order:
    """A store order of the run: its action's kind and its number of Gelato orders."""

    order_id: int
    kind: str
    parts: int


def _plan() -> list[Order]:
    orders = [Order(FIRST + n, "cancel", 1) for n in range(SINGLE)]
    orders += [Order(FIRST + SINGLE + n, "cancel", 2) for n in range(SPLIT)]
    orders += [Order(FIRST + SINGLE + SPLIT + n, "address_update", 1) for n in range(ADDRESSES)]
    return orders


def _deliveries(orders: list[Order]) -> list[tuple[float, Delivery]]:
    """Each order's delivery, and for every other address edit its re-emit; when each starts."""
    planned = []
    for order in orders:
        start = random.uniform(0, ARRIVALS)
        if order.kind == "cancel":
            payload = order_payload(order.order_id)
            planned.append((start, Delivery.signed(order.order_id, "orders/cancelled", payload)))
            continue
        payload = updated_payload(order.order_id, NEW_ADDRESS, EDITED_AT)
        planned.append((start, Delivery.signed(order.order_id, "orders/updated", payload)))
        if order.order_id % 2:
            # The same event under another webhook id: at once for some, seconds later for others.
            again = start if order.order_id % 4 == 1 else start + random.uniform(1, 5)
            planned.append((again, Delivery.signed(order.order_id, "orders/updated", payload)))
    return planned


class Run:
    """Schedules every copy, and fires the running and after-the-end copies on what it sees."""

    def __init__(self, sender: Sender, pool: ThreadPoolExecutor) -> None:
        self.sender = sender
        self.pool = pool
        self.copies: list[Copy] = []
        self.futures: list[Future[Any]] = []
        self._timeline: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self.started: set[str] = set()
        # Per order, deliveries still owed their running or after-the-end copies.
        self.owed_running: dict[int, list[Delivery]] = {}
        self.owed_after: dict[int, list[Delivery]] = {}

    def at(self, when: float, do: Callable[[], None]) -> None:
        heapq.heappush(self._timeline, (when, next(self._sequence), do))

    def submit(self, delivery: Delivery, phase: str, count: int, together: bool = False) -> None:
        copies = [Copy(delivery, phase) for _ in range(count)]
        self.copies += copies
        if together:
            self.futures.append(self.pool.submit(self.sender.burst, copies))
        else:
            self.futures += [self.pool.submit(self.sender.send, copy) for copy in copies]

    def plan(self, delivery: Delivery, start: float) -> None:
        def first() -> None:
            self.submit(delivery, "burst", BURST, together=True)
            self.started.add(delivery.webhook_id)

        self.at(start, first)
        for _ in range(SPREAD_COPIES):
            self.at(
                start + random.uniform(0.2, SPREAD),
                lambda: self.submit(delivery, "spread", 1),
            )
        self.owed_running.setdefault(delivery.order_id, []).append(delivery)
        self.owed_after.setdefault(delivery.order_id, []).append(delivery)

    def fire_due(self, now: float) -> None:
        while self._timeline and self._timeline[0][0] <= now:
            heapq.heappop(self._timeline)[2]()

    def watch(self, states: dict[int, tuple[str, str | None, str]]) -> None:
        """Send the copies owed to orders whose action is running, or ended and reported."""
        for owed, phase, count, due in (
            (self.owed_running, "running", RUNNING_COPIES, _running_or_ended),
            (self.owed_after, "after", AFTER_COPIES, _ended_and_reported),
        ):
            for order_id, waiting in owed.items():
                state = states.get(order_id)
                if state is None or not due(state):
                    continue
                for delivery in [d for d in waiting if d.webhook_id in self.started]:
                    self.submit(delivery, phase, count)
                    waiting.remove(delivery)

    @property
    def all_sent(self) -> bool:
        owed = [*self.owed_running.values(), *self.owed_after.values()]
        return not self._timeline and not any(owed) and all(f.done() for f in self.futures)


def _running_or_ended(state: tuple[str, str | None, str]) -> bool:
    return state[0] != "pending" or state[1] is not None


def _ended_and_reported(state: tuple[str, str | None, str]) -> bool:
    return state[1] is not None and state[2] != "pending"


def _states(engine: sa.Engine) -> dict[int, tuple[str, str | None, str]]:
    """Per store order, its action's state, outcome and report state (the last action seen)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                actions.c.order_id, actions.c.state, actions.c.outcome, actions.c.report_state
            )
        )
        return {int(row[0]): (row[1], row[2], row[3]) for row in rows}


def _windows(engine: sa.Engine) -> dict[int, tuple[float, float]]:
    """Per store order, when its action's first attempt started and when the action ended."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(actions.c.order_id, sa.func.min(attempts.c.started_at), actions.c.finished_at)
            .join(attempts, attempts.c.action_id == actions.c.id)
            .group_by(actions.c.order_id, actions.c.finished_at)
        )
        return {int(row[0]): (row[1].timestamp(), row[2].timestamp()) for row in rows}


def _recorded(engine: sa.Engine) -> tuple[int, int, Counter[str]]:
    """Deliveries recorded for the run's actions, their duplicates, and their results."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(deliveries.c.result, deliveries.c.duplicates).where(
                deliveries.c.topic != "orders/create"
            )
        ).all()
    return len(rows), sum(int(row[1]) for row in rows), Counter(str(row[0]) for row in rows)


def test_every_delivery_sent_ten_times_changes_each_gelato_order_once(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    orders = _plan()
    planned = _deliveries(orders)
    engine = sa.create_engine(postgres_url)
    with running_stack(
        tmp_path,
        redis_url,
        postgres_url,
        WORKERS,
        GUNICORN_CMD_ARGS=WEB,
        BRIDGE_RETRY_BASE_SECONDS="0.5",
        BRIDGE_RETRY_CAP_SECONDS="2",
        BRIDGE_NOT_FOUND_GRACE_SECONDS="60",
    ) as stack:
        for order in orders:
            stack.gelato.post(
                "/_sandbox/orders",
                {
                    "orderReferenceId": str(order.order_id),
                    "parts": order.parts,
                    "statuses": ["passed"] * order.parts,
                    "shippingAddress": GELATO_OLD_ADDRESS,
                },
            )
            if order.kind == "address_update":
                # The store's own record of the order, which the edit is compared with.
                created = updated_payload(order.order_id, OLD_ADDRESS, CREATED_AT)
                assert stack.send("orders/create", created) == 200
        stack.gelato.post("/_sandbox/latency", {"seconds": GELATO_LATENCY})

        started = time.monotonic()
        with ThreadPoolExecutor(48) as pool:
            run = Run(Sender(stack.url), pool)
            for start, delivery in planned:
                run.plan(delivery, started + start)
            polled = 0.0
            while not run.all_sent and time.monotonic() - started < DEADLINE:
                now = time.monotonic()
                run.fire_due(now)
                if now - polled >= POLL:
                    run.watch(_states(engine))
                    polled = now
                time.sleep(0.02)
            for future in run.futures:
                future.result()
        took = time.monotonic() - started
        assert run.all_sent, f"not every action ended and was reported within {DEADLINE}s"
        states = _states(engine)
        windows = _windows(engine)
        every_action = stack.actions()
        recorded, duplicates, results = _recorded(engine)
        calls = stack.gelato.get("/_sandbox/requests")
        store_calls = stack.store.get("/_sandbox/calls")
        tags = {
            order.order_id: stack.store.get(f"/_sandbox/orders/{SHOP}/{order.order_id}")["tags"]
            for order in orders
        }
    engine.dispose()

    answers = Counter(answer for copy in run.copies for answer in copy.answers)
    finals = Counter(copy.final for copy in run.copies)
    slowest = max(seconds for copy in run.copies for seconds in copy.seconds)
    # When each copy came, against its action's life.
    timing = Counter(
        "before_start" if copy.sent_at < windows[copy.delivery.order_id][0]
        else "while_running" if copy.sent_at <= windows[copy.delivery.order_id][1]
        else "after_end"
        for copy in run.copies
        if copy.delivery.order_id in windows
    )  # fmt: skip
    per_order = Counter(int(action["order_id"]) for action in every_action)
    expected = {"cancel": "cancelled", "address_update": "address_updated"}
    kinds = {order.order_id: order.kind for order in orders}
    wrong = {
        int(a["order_id"]): (a["outcome"], a["reason"])
        for a in every_action
        if a["outcome"] != expected[kinds[int(a["order_id"])]]
    }
    cancels = cancels_sent(calls)
    drafts = drafts_created(calls)
    double_cancels = {order: n for order, n in cancels.items() if n > 1}
    double_drafts = {original: n for original, n in drafts.items() if n > 1}
    reports = Counter(
        int(str(call["variables"]["id"]).rsplit("/", 1)[-1])
        for call in store_calls
        if call["operation"] == "tagsAdd" and call["status"] == 200
    )
    distinct = len(planned)
    write_figures(
        "duplicates",
        {
            "orders": len(orders),
            "workers": WORKERS,
            "copies_per_delivery": COPIES,
            "distinct_deliveries": distinct,
            "deliveries_sent": len(run.copies),
            "requests_made": sum(answers.values()),
            "answered_200": finals[200],
            "answered_503_then_retried": answers[503],
            "answered_other": sum(n for status, n in answers.items() if status not in (200, 503)),
            "copies_before_action_started": timing["before_start"],
            "copies_while_action_running": timing["while_running"],
            "copies_after_action_ended": timing["after_end"],
            "deliveries_recorded": recorded,
            "duplicates_counted": duplicates,
            "delivery_results": dict(results),
            "actions_created": len(every_action),
            "outcomes": dict(Counter(a["outcome"] for a in every_action)),
            "orders_lost": len(set(kinds) - set(per_order)),
            "wrong_outcomes": len(wrong),
            "gelato_cancels_sent": sum(cancels.values()),
            "double_cancels": len(double_cancels),
            "replacement_drafts": sum(drafts.values()),
            "double_drafts": len(double_drafts),
            "tags_add_calls": sum(reports.values()),
            "double_reports": sum(1 for n in reports.values() if n > 1),
            "max_answer_seconds": round(slowest, 3),
            "duration_seconds": round(took, 1),
        },
    )

    assert finals == {200: len(run.copies)}, "every copy must end answered 200"
    errors = Counter(error for copy in run.copies for error in copy.errors)
    assert set(answers) <= {200, 503}, f"answers other than 200 and 503: {answers}, {errors}"
    assert slowest < ANSWER_LIMIT
    # Every copy answered 200 was recorded: once as a delivery, or as one of its duplicates.
    assert (recorded, recorded + duplicates) == (distinct, finals[200])
    assert per_order == Counter(list(kinds)), "each order must get exactly one action"
    assert wrong == {}
    assert all(state[2] == "done" for state in states.values())
    assert double_cancels == {}, "a Gelato order received more than one cancel"
    assert len(cancels) == SINGLE + 2 * SPLIT + ADDRESSES
    assert double_drafts == {}, "an original was re-issued more than once"
    assert len(drafts) == ADDRESSES
    assert reports == Counter(list(kinds)), "each order must be reported back exactly once"
    assert {
        order_id: [t for t in found if t.startswith("gelato:")] for order_id, found in tags.items()
    } == {
        order_id: ["gelato:" + expected[kind].replace("_", "-")] for order_id, kind in kinds.items()
    }
    # The run proved something only if copies came during and after the actions.
    assert timing["while_running"] > 0
    assert timing["after_end"] > 0
