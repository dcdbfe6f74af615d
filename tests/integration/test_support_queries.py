"""The console's read models on real SQL: search, paging, scope, the queue, the overview."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bridge.adapters.storage import Storage
from bridge.domain.outcomes import Outcome
from bridge.support.overview import overview
from bridge.support.queries import PAGE_SIZE, Filters, SupportQueries
from bridge.support.records import SupportRecords
from tests.conftest import SHOP
from tests.integration.sync_log_rows import NOW, action, api_call, delivery, migrated_engine

OTHER = "other-shop.myshopify.com"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as made:
        yield made


def finished(
    storage: Storage, order_id: str, outcome: Outcome, minutes: int, shop: str = SHOP, **kw: object
) -> str:
    """A finished cancel of `order_id`, created `minutes` before NOW, that called Gelato."""
    at = NOW - timedelta(minutes=minutes)
    new = replace(
        action(), shop=shop, order_id=order_id, order_name=f"#{order_id[-4:]}", created_at=at
    )
    storage.record_delivery(
        delivery(shop=shop, order_id=order_id, received_at=at, **kw),  # type: ignore[arg-type]
        new,
    )
    storage.record_api_call(new.id, 1, api_call(at + timedelta(milliseconds=250)))
    parts = {f"g-{order_id}": {"status_found": "printed", "result": "too_late"}}
    storage.finish_action(
        new.id, at, outcome=outcome, reason=None, message="", detail={"parts": parts}
    )
    return new.id


def test_text_search_resolves_names_ids_gelato_ids_and_delivery_ids(engine: Engine) -> None:
    storage = Storage(engine)
    found_id = finished(storage, "1000001042", Outcome.TOO_LATE, 5, webhook_id="hook-1042")
    finished(storage, "1000001043", Outcome.CANCELLED, 4)
    queries = SupportQueries(engine)

    for text in ("#1042", "1042", "1000001042", "g-1000001042", "hook-1042", found_id):
        page = queries.actions(None, Filters(text=text), None)
        assert [row.id for row in page.rows] == [found_id], text
    assert queries.actions(None, Filters(text="#9999"), None).rows == []


def test_scope_hides_other_shops_everywhere(engine: Engine) -> None:
    storage = Storage(engine)
    ours = finished(storage, "2001", Outcome.NOT_FOUND, 3)
    theirs = finished(storage, "2002", Outcome.NOT_FOUND, 2, shop=OTHER)
    queries = SupportQueries(engine)

    assert [row.id for row in queries.actions((SHOP,), Filters(), None).rows] == [ours]
    assert queries.actions((SHOP,), Filters(text="2002"), None).rows == []
    assert [row.id for row in queries.attention((SHOP,), None).rows] == [ours]
    assert queries.action(theirs, (SHOP,)) is None
    assert queries.action(theirs, None) is not None


def test_pages_are_newest_first_without_gaps_or_repeats(engine: Engine) -> None:
    storage = Storage(engine)
    made = [finished(storage, f"3{n:03}", Outcome.CANCELLED, n) for n in range(PAGE_SIZE + 7)]
    queries = SupportQueries(engine)

    first = queries.actions(None, Filters(), None)
    second = queries.actions(None, Filters(), first.next)

    assert first.total == PAGE_SIZE + 7
    assert [row.id for row in first.rows + second.rows] == made
    assert second.next is None


def test_queue_is_oldest_first_and_handled_ones_leave_it(engine: Engine) -> None:
    storage = Storage(engine)
    old = finished(storage, "4001", Outcome.NEEDS_ATTENTION, 30)
    new = finished(storage, "4002", Outcome.NOT_FOUND, 10)
    finished(storage, "4003", Outcome.CANCELLED, 5)
    queries = SupportQueries(engine)

    assert [row.id for row in queries.attention(None, None).rows] == [old, new]
    assert SupportRecords(engine).mark_handled(old, "ann", "done by hand", NOW)
    assert not SupportRecords(engine).mark_handled(old, "bob", "again", NOW)
    assert [row.id for row in queries.attention(None, None).rows] == [new]
    assert queries.handled(None).notes[old].handled_by == "ann"


def test_overview_counts_days_lateness_and_median_in_each_database(engine: Engine) -> None:
    storage = Storage(engine)
    finished(storage, "5001", Outcome.TOO_LATE, 60)
    finished(storage, "5002", Outcome.CANCELLED, 60 * 30)
    finished(storage, "5003", Outcome.CANCELLED, 60 * 24 * 20)  # before the week

    found = overview(engine, None, NOW)

    assert found.last_day == {"too_late": 1}
    assert found.last_week == {"too_late": 1, "cancelled": 1}
    assert (found.too_late, found.cancel_verdicts) == (1, 2)
    assert found.too_late_share == 0.5
    assert found.median_ms == pytest.approx(250, abs=1)
    assert found.timed_actions == 2
    assert sum(day.total for day in found.days) == 2
    assert found.days[-1].day == NOW.date()
    assert overview(engine, (OTHER,), NOW).timed_actions == 0
