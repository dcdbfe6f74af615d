"""The sync log on real SQL (SQLite and PostgreSQL), schema made by the Alembic migrations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.stalled import unfinished_actions, unreported_actions
from bridge.adapters.storage import Storage
from bridge.adapters.tables import actions, api_calls, deliveries
from bridge.domain.actions import ActionState, ReportState
from bridge.domain.outcomes import Outcome
from tests.integration.sync_log_rows import (
    NOW,
    ORDER_ID,
    UPDATED,
    action,
    api_call,
    delivery,
    migrated_engine,
)


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    with migrated_engine(database_url) as engine:
        yield Storage(engine)


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def duplicates_of(engine: Engine, webhook_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(deliveries.c.duplicates).where(deliveries.c.webhook_id == webhook_id)
            ).scalar_one()
        )


def test_delivery_with_an_action_is_accepted_and_the_action_is_pending(storage: Storage) -> None:
    new = action()

    recorded = storage.record_delivery(delivery(), new)

    assert (recorded.result, recorded.action_id) == ("accepted", new.id)
    assert (recorded.duplicate, recorded.enqueue) == (False, True)
    stored = storage.load_action(new.id)
    assert stored is not None
    assert (stored.state, stored.outcome, stored.attempts) == (ActionState.PENDING, None, 0)
    assert (stored.kind, stored.reference, stored.dry_run) == ("cancel", ORDER_ID, False)
    assert stored.created_at == NOW
    assert stored.report_state == ReportState.NONE


def test_delivery_without_an_action_keeps_its_own_result(storage: Storage) -> None:
    recorded = storage.record_delivery(delivery(topic="orders/paid", result="ignored"), None)

    assert (recorded.result, recorded.action_id, recorded.enqueue) == ("ignored", None, False)


def test_same_webhook_id_again_is_a_duplicate_and_creates_no_action(storage: Storage) -> None:
    first = storage.record_delivery(delivery("wh-1"), action())

    again = storage.record_delivery(delivery("wh-1"), action(dedupe_key="cancel:other"))

    assert again.duplicate
    assert (again.result, again.action_id) == ("accepted", first.action_id)
    # Still pending: the store's retry is the moment to enqueue it again.
    assert again.enqueue
    assert duplicates_of(storage.engine, "wh-1") == 1
    assert count(storage.engine, actions) == 1
    assert count(storage.engine, deliveries) == 1


def test_duplicate_of_a_finished_action_is_not_enqueued_again(storage: Storage) -> None:
    first = storage.record_delivery(delivery("wh-1"), action())
    assert first.action_id is not None
    storage.finish_action(first.action_id, NOW, outcome=Outcome.CANCELLED, reason=None, message="")

    again = storage.record_delivery(delivery("wh-1"), action())
    third = storage.record_delivery(delivery("wh-1"), action())

    assert (again.duplicate, again.enqueue, third.enqueue) == (True, False, False)
    assert duplicates_of(storage.engine, "wh-1") == 2


def test_same_webhook_id_from_another_shop_is_not_a_duplicate(storage: Storage) -> None:
    storage.record_delivery(delivery("wh-1"), None)

    other = storage.record_delivery(delivery("wh-1", shop="other.myshopify.com"), None)

    assert not other.duplicate
    assert count(storage.engine, deliveries) == 2


def test_second_delivery_of_the_same_event_repeats_the_existing_action(storage: Storage) -> None:
    first = storage.record_delivery(delivery(), action())

    second = storage.record_delivery(delivery(), action())

    assert (second.result, second.action_id) == ("repeat", first.action_id)
    assert (second.duplicate, second.enqueue) == (False, False)
    assert count(storage.engine, actions) == 1
    assert count(storage.engine, deliveries) == 2


def test_event_older_than_the_applied_one_is_recorded_as_stale(storage: Storage) -> None:
    storage.record_delivery(delivery(), action())
    # 17:00 at +02:00 is 15:00 UTC: earlier than 11:31:25-05:00 (16:31:25 UTC).
    older = datetime(2026, 11, 20, 17, 0, tzinfo=timezone(timedelta(hours=2)))

    stale = storage.record_delivery(
        delivery(event_updated_at=older), action("cancel:older", event_updated_at=older)
    )

    assert (stale.result, stale.action_id, stale.enqueue) == ("stale", None, False)
    assert count(storage.engine, actions) == 1
    assert count(storage.engine, deliveries) == 2


def test_newer_event_for_the_same_order_gets_its_own_action(storage: Storage) -> None:
    storage.record_delivery(delivery(), action())
    newer = UPDATED + timedelta(seconds=1)

    recorded = storage.record_delivery(
        delivery(event_updated_at=newer), action("cancel:newer", event_updated_at=newer)
    )

    assert (recorded.result, recorded.enqueue) == ("accepted", True)
    assert count(storage.engine, actions) == 2


def test_attempts_open_close_and_a_retry_leaves_the_action_retrying(storage: Storage) -> None:
    new = action()
    storage.record_delivery(delivery(), new)

    first = storage.start_attempt(new.id, NOW)
    storage.end_attempt(
        new.id, 1, NOW, result="retry", reason="gelato.timeout", message="slow", retry_in=30
    )
    retrying = storage.load_action(new.id)
    second = storage.start_attempt(new.id, NOW + timedelta(seconds=30))

    assert (first, second) == (1, 2)
    assert retrying is not None
    assert (retrying.state, retrying.reason, retrying.attempts) == (
        ActionState.RETRYING,
        "gelato.timeout",
        1,
    )
    running = storage.load_action(new.id)
    assert running is not None
    assert (running.state, running.attempts) == (ActionState.RUNNING, 2)


def test_action_finishes_once_and_then_takes_no_attempt(storage: Storage) -> None:
    new = action()
    storage.record_delivery(delivery(), new)
    storage.start_attempt(new.id, NOW)
    detail = {"parts": {"g-1": {"status_found": "passed", "done": "cancelled"}}}

    finished = storage.finish_action(
        new.id, NOW, outcome=Outcome.CANCELLED, reason=None, message="done", detail=detail
    )
    again = storage.finish_action(
        new.id, NOW, outcome=Outcome.TOO_LATE, reason="gelato.conflict", message="late"
    )

    assert (finished, again) == (True, False)
    stored = storage.load_action(new.id)
    assert stored is not None
    assert (stored.state, stored.outcome, stored.message) == (ActionState.DONE, "cancelled", "done")
    assert stored.detail == detail
    assert stored.finished_at == NOW
    assert stored.report_state == ReportState.PENDING
    assert storage.start_attempt(new.id, NOW) is None


def test_unknown_action_has_no_record_and_no_attempt(storage: Storage) -> None:
    assert storage.load_action("missing") is None
    assert storage.start_attempt("missing", NOW) is None


def test_first_gelato_call_time_is_set_once_and_only_by_gelato_calls(storage: Storage) -> None:
    new = action()
    storage.record_delivery(delivery(), new)

    storage.record_api_call(new.id, 1, api_call(NOW - timedelta(seconds=5), service="store"))
    storage.record_api_call(new.id, 1, api_call(NOW))
    storage.record_api_call(new.id, 2, api_call(NOW + timedelta(minutes=1)))

    with storage.engine.connect() as connection:
        first = connection.execute(
            sa.select(actions.c.first_gelato_call_at).where(actions.c.id == new.id)
        ).scalar_one()
    assert first == NOW
    assert count(storage.engine, api_calls) == 3


def test_stalled_actions_are_read_page_by_page_through_ties_on_time(storage: Storage) -> None:
    made = []
    for n in range(5):
        order_id = str(5_000 + n)
        new = action(order_id=order_id)
        storage.record_delivery(delivery(f"paged-{n}", order_id=order_id), new)
        made.append(new.id)
    finished = made.pop()
    storage.finish_action(finished, NOW, outcome=Outcome.CANCELLED, reason=None, message="")
    later = NOW + timedelta(hours=1)

    unfinished = list(unfinished_actions(storage.engine, later, page=2))
    unreported = list(unreported_actions(storage.engine, later, page=1))

    assert unfinished == sorted(made)
    assert unreported == [finished]
    assert list(unfinished_actions(storage.engine, NOW, page=2)) == []
