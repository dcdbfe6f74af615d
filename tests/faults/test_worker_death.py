"""Guarantee 3: workers killed with SIGKILL at random points lose no action and repeat no change.

500 actions (cancellations of one- and two-part orders, and address edits) run on four worker
processes while one of them, chosen at random, is SIGKILLed every second or two and a new one
started in its place. Every action must end with exactly one outcome, the expected one, and the
Gelato sandbox's request log must show no side effect twice: at most one cancel per Gelato
order, at most one replacement draft per re-issued original.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import SHOP
from tests.faults.gelato_log import cancels_sent, drafts_created
from tests.faults.lease_stack import (
    CREATED_AT,
    Stack,
    deliver_all,
    running_stack,
    write_figures,
)
from tests.support.webhooks import (
    GELATO_OLD_ADDRESS,
    OLD_ADDRESS,
    updated_payload,
)

pytestmark = pytest.mark.faults

LEASE = 3
WORKERS = 4
SINGLE, SPLIT, ADDRESSES = 300, 100, 100
FIRST = 7_100_000
DEADLINE = 240.0


def _plan() -> dict[int, tuple[str, int]]:
    """Store order id -> (kind of action, number of Gelato orders)."""
    plan: dict[int, tuple[str, int]] = {}
    for n in range(SINGLE + SPLIT + ADDRESSES):
        kind = "cancel" if n < SINGLE + SPLIT else "address_update"
        plan[FIRST + n] = (kind, 2 if SINGLE <= n < SINGLE + SPLIT else 1)
    return plan


def _deliver(stack: Stack, plan: dict[int, tuple[str, int]]) -> list[tuple[int, float]]:
    """Send every order's delivery, in a shuffled order, from eight senders."""
    orders = list(plan)
    random.shuffle(orders)
    return deliver_all(stack, {order_id: plan[order_id][0] for order_id in orders}, senders=8)


def test_workers_killed_at_random_lose_no_action_and_repeat_no_change(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    plan = _plan()
    with running_stack(
        tmp_path,
        redis_url,
        postgres_url,
        WORKERS,
        BRIDGE_WORKER_LEASE_SECONDS=str(LEASE),
        BRIDGE_RETRY_BASE_SECONDS="0.5",
        BRIDGE_RETRY_CAP_SECONDS="2",
        BRIDGE_NOT_FOUND_GRACE_SECONDS="60",
    ) as stack:
        for order_id, (kind, parts) in plan.items():
            stack.gelato.post(
                "/_sandbox/orders",
                {
                    "orderReferenceId": str(order_id),
                    "parts": parts,
                    "statuses": ["passed"] * parts,
                    "shippingAddress": GELATO_OLD_ADDRESS,
                },
            )
            if kind == "address_update":
                # The store's own record of the order, which the edit is compared with.
                assert (
                    stack.send("orders/create", updated_payload(order_id, OLD_ADDRESS, CREATED_AT))
                    == 200
                )

        started = time.monotonic()
        with ThreadPoolExecutor(1) as sending:
            sent = sending.submit(_deliver, stack, plan)
            actions = None
            while actions is None and time.monotonic() - started < DEADLINE:
                time.sleep(random.uniform(0.5, 2.0))
                if stack.kills < 20 and time.monotonic() - started < 60:
                    stack.kill_worker(random.choice(stack.workers))
                    stack.start_worker()
                actions = stack.finished(len(plan)) if sent.done() else None
            answers = sent.result()
        took = time.monotonic() - started
        assert actions is not None, f"not every action ended within {DEADLINE}s"
        calls = stack.gelato.get("/_sandbox/requests")
        tags = {
            order_id: stack.store.get(f"/_sandbox/orders/{SHOP}/{order_id}").get("tags", [])
            for order_id in plan
        }

    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: len(plan)}
    per_order = Counter(int(action["order_id"]) for action in actions)
    assert per_order == Counter(list(plan)), "each delivery must make exactly one action"
    expected = {"cancel": "cancelled", "address_update": "address_updated"}
    wrong = {
        int(a["order_id"]): (a["outcome"], a["reason"])
        for a in actions
        if a["outcome"] != expected[a["kind"]]
    }
    assert wrong == {}
    ended = {int(a["order_id"]): a["outcome"] for a in actions}
    reported = {
        order_id: [tag for tag in order_tags if tag.startswith("gelato:")]
        for order_id, order_tags in tags.items()
    }
    assert reported == {
        order_id: ["gelato:" + ended[order_id].replace("_", "-")] for order_id in plan
    }

    cancels = cancels_sent(calls)
    drafts = drafts_created(calls)
    twice = {order: count for order, count in cancels.items() if count > 1}
    assert twice == {}, "a Gelato order received more than one cancel"
    assert {original: n for original, n in drafts.items() if n > 1} == {}
    assert len(drafts) == ADDRESSES
    interrupted = sum(
        1 for a in actions for attempt in a["attempts"] if attempt["reason"] == "worker.lost"
    )
    write_figures(
        "worker_death",
        {
            "deliveries_sent": len(plan),
            "answered_200": statuses[200],
            "max_answer_seconds": round(max(seconds for _, seconds in answers), 3),
            "actions": len(plan),
            "workers": WORKERS,
            "lease_seconds": LEASE,
            "workers_killed": stack.kills,
            "attempts_interrupted_by_a_kill": interrupted,
            "outcomes": dict(Counter(a["outcome"] for a in actions)),
            "actions_lost": len(plan) - len(actions),
            "wrong_outcomes": len(wrong),
            "gelato_orders_cancelled_twice": len(twice),
            "originals_with_two_drafts": sum(1 for n in drafts.values() if n > 1),
            "seconds_to_finish_all": round(took, 1),
        },
    )
    assert interrupted >= 1, "no kill landed during an action: the run proved nothing"
