"""Deliveries for one order recorded at the same time, on SQLite and PostgreSQL.

PostgreSQL runs concurrent webhook transactions side by side (READ COMMITTED); each statement
sees what was committed when it began. These tests pause one delivery's transaction right after
it read the order's state, start recording another delivery for the same order in a thread
meanwhile, and let the first go on once the other has finished or waits for the first. The
recording of an order's events is serialized, so the other must wait, and then decides from
what the first committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.recording import (
    AddressSeen,
    DeliveryRecorder,
    NewAction,
    Recorded,
    _Run,
)
from bridge.adapters.tables import actions, deliveries, order_states
from bridge.domain.actions import ActionKind, ActionState, address_dedupe_key
from bridge.domain.outcomes import Outcome
from tests.conftest import SHOP
from tests.integration.sync_log_rows import (
    NOW,
    ORDER_ID,
    UPDATED,
    action,
    delivery,
    migrated_engine,
)

OLD, NEW = "fingerprint-old", "fingerprint-new"
# How long to wait for the other recording to finish or queue behind the paused one: only
# a machine in trouble comes near it.
DEADLINE_SECONDS = 30.0
# SQLite shows no lock waits: the other recording is given this long to reach the lock. It
# cannot get past it before the paused transaction commits, however long it is given.
SQLITE_HEAD_START_SECONDS = 0.3


class PausingRecorder(DeliveryRecorder):
    """A recorder that runs `meanwhile` once, just after its transaction read the order's state.

    `meanwhile` is given the transaction's PostgreSQL backend id (None on SQLite).
    """

    def __init__(self, engine: Engine, meanwhile: Callable[[int | None], object]) -> None:
        super().__init__(engine)
        self.meanwhile: Callable[[int | None], object] | None = meanwhile

    def _read_state(self, run: _Run, key: dict[str, str], now: str | None, seen: str | None) -> Any:
        state = super()._read_state(run, key, now, seen)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile(None if self._sqlite else run("SELECT pg_backend_pid()").fetchone()[0])
        return state


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    with migrated_engine(database_url) as engine:
        yield engine


class Alongside:
    """A `meanwhile` that records in a thread until it is done or waits for the paused one."""

    def __init__(self, engine: Engine, record: Callable[[], object]) -> None:
        self.engine = engine
        self.record = record
        self.thread = threading.Thread(target=self._recording, daemon=True)
        self.failures: list[Exception] = []

    def __call__(self, paused_pid: int | None) -> None:
        self.thread.start()
        if paused_pid is None:
            self.thread.join(SQLITE_HEAD_START_SECONDS)
        else:
            self._until_done_or_waiting(paused_pid)

    def finish(self) -> None:
        """Wait for the recording started alongside, and raise what it raised."""
        self.thread.join(DEADLINE_SECONDS)
        assert not self.thread.is_alive(), "the recording started alongside did not finish"
        if self.failures:
            raise self.failures[0]

    def _recording(self) -> None:
        try:
            self.record()
        except Exception as error:  # noqa: BLE001 - raised by finish(), not lost in the thread
            self.failures.append(error)

    def _until_done_or_waiting(self, paused_pid: int) -> None:
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE :paused = ANY(pg_blocking_pids(pid))"
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        # Each poll in a transaction of its own: PostgreSQL keeps one view of pg_stat_activity
        # for a whole transaction, so polls in one would never see the other start to wait.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as monitor:
            while self.thread.is_alive():
                if monitor.execute(waiting, {"paused": paused_pid}).scalar_one():
                    return
                if time.monotonic() > deadline:
                    pytest.fail(
                        "the other recording neither finished nor waited for the paused one"
                    )
                self.thread.join(0.01)


def learn_address(recorder: DeliveryRecorder) -> None:
    """The order's address is known (from orders/create): the edits below change it."""
    recorder.record(
        delivery("created", topic="orders/create"),
        AddressSeen(shop=SHOP, order_id=ORDER_ID, fingerprint=OLD, event_updated_at=None,
                    created_at=NOW),
    )  # fmt: skip


def address_edit(fingerprint: str = NEW, updated_at: datetime = UPDATED) -> NewAction:
    """The address-edit action an `orders/updated` event with `fingerprint` asks for."""
    return action(
        address_dedupe_key(updated_at.isoformat(), fingerprint),
        kind=ActionKind.ADDRESS_UPDATE.value,
        fingerprint=fingerprint,
        event_updated_at=updated_at,
        detail={"address": {"addressLine1": f"{fingerprint} Street"}},
    )


def edit_delivery(webhook_id: str, updated_at: datetime = UPDATED) -> Any:
    return delivery(webhook_id, topic="orders/updated", event_updated_at=updated_at)


def record_interleaved(
    engine: Engine, paused: tuple[str, NewAction], alongside: tuple[str, NewAction]
) -> tuple[Recorded, Recorded]:
    """Record `paused` (webhook id, edit), pausing right after it read the order's state, and
    `alongside` in another transaction meanwhile; both results, the paused one first."""
    results: list[Recorded] = []
    (paused_id, paused_edit), (alongside_id, alongside_edit) = paused, alongside

    def record_alongside() -> None:
        delivery = edit_delivery(alongside_id, alongside_edit.event_updated_at)
        results.append(DeliveryRecorder(engine).record(delivery, alongside_edit))

    meanwhile = Alongside(engine, record_alongside)
    first = PausingRecorder(engine, meanwhile).record(
        edit_delivery(paused_id, paused_edit.event_updated_at), paused_edit
    )
    meanwhile.finish()
    return first, results[0]


def actions_found(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(actions.c.id, actions.c.state, actions.c.outcome))
        return {row.id: (row.state, row.outcome) for row in rows}


def order_state(engine: Engine) -> tuple[datetime | None, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(order_states.c.applied_updated_at, order_states.c.address_fingerprint)
        ).one()
    return row.applied_updated_at, row.address_fingerprint


def delivery_results(engine: Engine) -> dict[str, tuple[str, str | None, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                deliveries.c.webhook_id,
                deliveries.c.result,
                deliveries.c.reason,
                deliveries.c.action_id,
            )
        )
        return {row.webhook_id: (row.result, row.reason, row.action_id) for row in rows}


OLDER_AT, NEWER_AT = UPDATED, UPDATED + timedelta(minutes=2)


def test_an_older_address_edit_recorded_alongside_a_newer_one_never_ends_the_newer(
    engine: Engine,
) -> None:
    recorder = DeliveryRecorder(engine)
    learn_address(recorder)
    older, newer = address_edit("fingerprint-older", OLDER_AT), address_edit(NEW, NEWER_AT)
    # The older edit read the order's state (the address from orders/create) while the newer
    # edit was being recorded.
    paused, alongside = record_interleaved(engine, ("wh-older", older), ("wh-newer", newer))
    recorded = {"older": paused, "newer": alongside}

    # Serialized: the older edit went first, so the newer one found it waiting and ended it.
    assert recorded["older"].result == "accepted"
    assert (recorded["newer"].result, recorded["newer"].action_id) == ("accepted", newer.id)
    assert actions_found(engine) == {
        older.id: (ActionState.DONE.value, Outcome.SUPERSEDED.value),
        newer.id: (ActionState.PENDING.value, None),
    }
    assert order_state(engine) == (NEWER_AT, NEW)


def test_an_older_address_edit_arriving_while_a_newer_one_is_recorded_is_stale(
    engine: Engine,
) -> None:
    recorder = DeliveryRecorder(engine)
    learn_address(recorder)
    older, newer = address_edit("fingerprint-older", OLDER_AT), address_edit(NEW, NEWER_AT)
    paused, alongside = record_interleaved(engine, ("wh-newer", newer), ("wh-older", older))
    recorded = {"newer": paused, "older": alongside}

    # The older edit waited for the newer one, then found it applied: recorded and ignored.
    assert (recorded["older"].result, recorded["older"].action_id) == ("stale", None)
    assert actions_found(engine) == {newer.id: (ActionState.PENDING.value, None)}
    assert order_state(engine) == (NEWER_AT, NEW)
    assert delivery_results(engine)["wh-older"] == ("stale", "event.older_than_applied", None)


def test_two_edits_of_an_order_with_no_state_yet_are_recorded_one_after_the_other(
    engine: Engine,
) -> None:
    older, newer = address_edit("fingerprint-older", OLDER_AT), address_edit(NEW, NEWER_AT)
    paused, alongside = record_interleaved(engine, ("wh-older", older), ("wh-newer", newer))
    recorded = {"older": paused, "newer": alongside}

    # The first address seen is the reference; the newer edit changes it.
    assert (recorded["older"].result, recorded["newer"].result) == ("ignored", "accepted")
    assert actions_found(engine) == {newer.id: (ActionState.PENDING.value, None)}
    assert order_state(engine) == (NEWER_AT, NEW)


def test_a_second_delivery_of_an_address_edit_never_supersedes_the_edit_it_repeats(
    engine: Engine,
) -> None:
    recorder = DeliveryRecorder(engine)
    learn_address(recorder)
    first, second = address_edit(), address_edit()
    # The store re-emits the event: another webhook id, the same body. The re-emit read the
    # order's state (still the old address) while the first delivery was being recorded.
    again, original = record_interleaved(engine, ("wh-second", second), ("wh-first", first))

    # One action for the edit, waiting to run; the other delivery adds nothing to it.
    found = actions_found(engine)
    assert list(found.values()) == [(ActionState.PENDING.value, None)]
    (kept,) = found
    results = {again.result, original.result}
    assert results in ({"accepted", "repeat"}, {"accepted", "ignored"})
    assert {again.action_id, original.action_id} - {None} == {kept}


BETWEEN_AT, LATEST_AT = UPDATED + timedelta(minutes=1), UPDATED + timedelta(minutes=2)


def test_an_edit_older_than_an_unchanged_one_recorded_alongside_it_is_stale(
    engine: Engine,
) -> None:
    recorder = DeliveryRecorder(engine)
    learn_address(recorder)
    applied = address_edit(NEW, OLDER_AT)
    assert recorder.record(edit_delivery("wh-applied", OLDER_AT), applied).result == "accepted"
    # The order changed later, its address still NEW; an edit made in between, with another
    # address, is recorded while that one is.
    unchanged, between = (
        address_edit(NEW, LATEST_AT),
        address_edit("fingerprint-between", BETWEEN_AT),
    )
    paused, alongside = record_interleaved(
        engine, ("wh-unchanged", unchanged), ("wh-between", between)
    )
    recorded = {"unchanged": paused, "between": alongside}

    assert (recorded["unchanged"].result, recorded["unchanged"].action_id) == ("ignored", None)
    assert (recorded["between"].result, recorded["between"].action_id) == ("stale", None)
    assert actions_found(engine) == {applied.id: (ActionState.PENDING.value, None)}
    assert order_state(engine) == (LATEST_AT, NEW)
    assert delivery_results(engine)["wh-between"] == ("stale", "event.older_than_applied", None)


def test_an_edit_older_than_the_first_address_seen_recorded_alongside_it_is_stale(
    engine: Engine,
) -> None:
    first, older = address_edit(NEW, LATEST_AT), address_edit("fingerprint-older", BETWEEN_AT)
    record_interleaved(engine, ("wh-first", first), ("wh-older", older))

    assert delivery_results(engine) == {
        "wh-first": ("ignored", "address.first_seen", None),
        "wh-older": ("stale", "event.older_than_applied", None),
    }
    assert actions_found(engine) == {}
    assert order_state(engine) == (LATEST_AT, NEW)


def test_the_address_learned_from_orders_create_is_dated_by_the_event(engine: Engine) -> None:
    recorder = DeliveryRecorder(engine)
    recorder.record(
        delivery("created", topic="orders/create", event_updated_at=OLDER_AT),
        AddressSeen(shop=SHOP, order_id=ORDER_ID, fingerprint=OLD, event_updated_at=OLDER_AT,
                    created_at=NOW),
    )  # fmt: skip
    before = address_edit(NEW, OLDER_AT - timedelta(minutes=1))

    late = recorder.record(edit_delivery("wh-before", before.event_updated_at), before)

    assert (late.result, late.action_id) == ("stale", None)
    assert order_state(engine) == (OLDER_AT, OLD)
