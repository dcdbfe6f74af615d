"""Two deliveries of one event recorded at the same time, on PostgreSQL.

PostgreSQL runs concurrent webhook transactions side by side (READ COMMITTED); each statement
sees what was committed when it began. These tests pause one delivery's transaction right after
it read the order's state, record the other delivery in full meanwhile, then let the first go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.recording import (
    SELECT_STATE,
    AddressSeen,
    DeliveryRecorder,
    NewAction,
    Recorded,
    _Run,
)
from bridge.adapters.tables import actions
from bridge.domain.actions import ActionKind, ActionState, address_dedupe_key
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


class PausingRecorder(DeliveryRecorder):
    """A recorder that runs `meanwhile` once, just after its transaction read the order's state."""

    def __init__(self, engine: Engine, meanwhile: Callable[[], object]) -> None:
        super().__init__(engine)
        self.meanwhile: Callable[[], object] | None = meanwhile

    @contextmanager
    def _transaction(self) -> Iterator[_Run]:
        with super()._transaction() as run:

            def pausing(statement: str, **params: object) -> object:
                cursor = run(statement, **params)
                if statement == SELECT_STATE and self.meanwhile is not None:
                    meanwhile, self.meanwhile = self.meanwhile, None
                    meanwhile()
                return cursor

            yield pausing


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    with migrated_engine(postgres_url) as engine:
        yield engine


def address_edit() -> NewAction:
    """The address-edit action an `orders/updated` event with the NEW address asks for."""
    return action(
        address_dedupe_key(UPDATED.isoformat(), NEW),
        kind=ActionKind.ADDRESS_UPDATE.value,
        fingerprint=NEW,
        detail={"address": {"addressLine1": "123 Ship Street"}},
    )


def test_a_second_delivery_of_an_address_edit_never_supersedes_the_edit_it_repeats(
    engine: Engine,
) -> None:
    recorder = DeliveryRecorder(engine)
    # The order's address is known: the edit below changes it.
    recorder.record(
        delivery("created", topic="orders/create"),
        AddressSeen(shop=SHOP, order_id=ORDER_ID, fingerprint=OLD, event_updated_at=None,
                    created_at=NOW),
    )  # fmt: skip
    first, second = address_edit(), address_edit()
    recorded: dict[str, Recorded] = {}

    def record_first() -> None:
        recorded["first"] = recorder.record(delivery("wh-first", topic="orders/updated"), first)

    # The store re-emits the event: another webhook id, the same body. The re-emit read the
    # order's state (still the old address) before the first delivery committed.
    again = PausingRecorder(engine, record_first).record(
        delivery("wh-second", topic="orders/updated"), second
    )

    assert recorded["first"].result == "accepted"
    assert (again.result, again.action_id, again.enqueue) == ("repeat", first.id, False)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(actions.c.id, actions.c.state, actions.c.outcome))
        found = [tuple(row) for row in rows]
    assert found == [(first.id, ActionState.PENDING.value, None)]
