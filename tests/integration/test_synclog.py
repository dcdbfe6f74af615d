"""The sync log read back for support: one order's document, and filtered lists of actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bridge.adapters.storage import Storage
from bridge.adapters.synclog import SyncLog
from bridge.domain.outcomes import Outcome
from tests.conftest import SHOP
from tests.integration.sync_log_rows import (
    EST,
    NOW,
    ORDER_ID,
    action,
    api_call,
    delivery,
    migrated_engine,
)

OTHER_SHOP = "other-shop.myshopify.com"


@dataclass
class Log:
    storage: Storage
    synclog: SyncLog


@pytest.fixture
def log(database_url: str) -> Iterator[Log]:
    with migrated_engine(database_url) as engine:
        yield Log(Storage(engine), SyncLog(engine))


def finished(log: Log, minutes: int, outcome: Outcome, shop: str = SHOP) -> str:
    """Record an action created `minutes` after NOW, for its own order, ended with `outcome`."""
    at = NOW + timedelta(minutes=minutes)
    order_id = str(1000 + minutes)
    new = action(id=f"action-{minutes:03d}", shop=shop, order_id=order_id, created_at=at)
    log.storage.record_delivery(delivery(shop=shop, order_id=order_id, received_at=at), new)
    log.storage.finish_action(new.id, at, outcome=outcome, reason=None, message=outcome.sentence)
    return new.id


def test_order_document_tells_the_whole_story(log: Log) -> None:
    new = action()
    log.storage.record_delivery(delivery("wh-1"), new)
    log.storage.record_delivery(delivery("wh-1"), new)
    log.storage.record_delivery(delivery("wh-2", received_at=NOW + timedelta(seconds=1)), action())
    log.storage.start_attempt(new.id, NOW)
    log.storage.record_api_call(new.id, 1, api_call(NOW + timedelta(seconds=2), status=None))
    log.storage.end_attempt(new.id, 1, NOW, result="retry", reason="gelato.timeout", retry_in=4)
    log.storage.start_attempt(new.id, NOW + timedelta(seconds=4))
    log.storage.record_api_call(new.id, 2, api_call(NOW + timedelta(seconds=5)))
    detail = {"parts": {"g-1": {"status_found": "passed", "done": "cancelled"}}}
    log.storage.finish_action(
        new.id, NOW, outcome=Outcome.CANCELLED, reason=None, message="ok", detail=detail
    )
    log.storage.end_attempt(new.id, 2, NOW, result="done")

    document = log.synclog.order(SHOP, ORDER_ID)

    assert document is not None
    assert (document["shop"], document["order_id"]) == (SHOP, ORDER_ID)
    assert [
        (d["webhook_id"], d["result"], d["action_id"], d["duplicates"])
        for d in document["deliveries"]
    ] == [("wh-1", "accepted", new.id, 1), ("wh-2", "repeat", new.id, 0)]
    assert document["deliveries"][0]["received_at"] == NOW.isoformat()
    (shown,) = document["actions"]
    assert (shown["id"], shown["outcome"], shown["state"], shown["attempt_count"]) == (
        new.id,
        "cancelled",
        "done",
        2,
    )
    assert shown["gelato_orders"] == [{"id": "g-1", "status_found": "passed", "done": "cancelled"}]
    assert shown["first_gelato_call_at"] == (NOW + timedelta(seconds=2)).isoformat()
    assert shown["report"]["state"] == "pending"
    assert [(a["number"], a["result"], a["reason"]) for a in shown["attempts"]] == [
        (1, "retry", "gelato.timeout"),
        (2, "done", None),
    ]
    assert [(c["attempt"], c["status"]) for c in shown["api_calls"]] == [(1, None), (2, 200)]
    assert shown["api_calls"][1]["response_body"] == '{"orders": []}'


def test_order_never_seen_has_no_document(log: Log) -> None:
    log.storage.record_delivery(delivery(), action())

    assert log.synclog.order(SHOP, "999") is None
    assert log.synclog.order(OTHER_SHOP, ORDER_ID) is None


def test_actions_are_listed_newest_first(log: Log) -> None:
    ids = [finished(log, minutes, Outcome.CANCELLED) for minutes in (1, 3, 2)]

    listed = [a["id"] for a in log.synclog.actions()]

    assert listed == [ids[1], ids[2], ids[0]]


def test_actions_are_filtered_by_shop(log: Log) -> None:
    mine = finished(log, 1, Outcome.CANCELLED)
    finished(log, 2, Outcome.CANCELLED, shop=OTHER_SHOP)

    assert [a["id"] for a in log.synclog.actions(shop=SHOP)] == [mine]


def test_actions_are_filtered_by_outcome(log: Log) -> None:
    finished(log, 1, Outcome.CANCELLED)
    late = finished(log, 2, Outcome.TOO_LATE)
    finished(log, 3, Outcome.NOT_FOUND)

    assert [a["id"] for a in log.synclog.actions(outcome="too_late")] == [late]


def test_actions_are_filtered_by_creation_time(log: Log) -> None:
    finished(log, 1, Outcome.CANCELLED)
    at_two = finished(log, 2, Outcome.CANCELLED)
    at_three = finished(log, 3, Outcome.CANCELLED)
    # The same instant written at another offset: the filter compares instants.
    since = (NOW + timedelta(minutes=2)).astimezone(EST)

    assert [a["id"] for a in log.synclog.actions(since=since)] == [at_three, at_two]


def test_actions_list_is_limited(log: Log) -> None:
    ids = [finished(log, minutes, Outcome.CANCELLED) for minutes in range(5)]

    assert [a["id"] for a in log.synclog.actions(limit=2)] == [ids[4], ids[3]]
    assert len(log.synclog.actions(limit=0)) == 1


def test_actions_filters_combine(log: Log) -> None:
    finished(log, 1, Outcome.TOO_LATE, shop=OTHER_SHOP)
    wanted = finished(log, 2, Outcome.TOO_LATE)
    finished(log, 3, Outcome.CANCELLED)

    listed = log.synclog.actions(shop=SHOP, outcome="too_late", since=NOW)

    assert [a["id"] for a in listed] == [wanted]
    assert listed[0]["message"] == Outcome.TOO_LATE.sentence
