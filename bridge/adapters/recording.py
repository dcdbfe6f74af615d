"""Recording a delivery: the one transaction on the webhook path, and what it decides.

This is the busiest code in printbridge (every store webhook runs it), so it speaks SQL
directly to the driver, with statements written once: SQLAlchemy's statement building cost
several times more than the database work itself. The SQL is plain enough for both SQLite and
PostgreSQL (`ON CONFLICT`, `RETURNING`); the table definitions stay in `tables.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.database import SQLITE_BUSY_TIMEOUT_SECONDS, driver_connection
from bridge.adapters.write_turns import WriteTurns
from bridge.domain.actions import ActionKind, ActionState, ReportState
from bridge.domain.outcomes import Outcome


@dataclass(frozen=True)
class NewDelivery:
    """A webhook delivery as received, before it is stored."""

    shop: str
    webhook_id: str
    event_id: str | None
    topic: str
    api_version: str | None
    triggered_at: datetime | None
    received_at: datetime
    order_id: str | None
    event_updated_at: datetime | None
    payload: str | None
    result: str
    reason: str | None = None


@dataclass(frozen=True)
class NewAction:
    """An action a delivery asks for. An address update carries its address's fingerprint."""

    id: str
    shop: str
    order_id: str
    order_name: str | None
    order_gid: str
    reference: str
    kind: str
    dedupe_key: str
    event_updated_at: datetime | None
    dry_run: bool
    created_at: datetime
    fingerprint: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AddressSeen:
    """An order's shipping address seen in an event that asks for no action (orders/create)."""

    shop: str
    order_id: str
    fingerprint: str
    event_updated_at: datetime | None
    created_at: datetime


Intent = NewAction | AddressSeen


# Runs one statement with named parameters in the current transaction; returns the cursor.
_Run = Callable[..., Any]


@dataclass(frozen=True)
class Recorded:
    """What recording a delivery did: its result, and the action to run, if any."""

    result: str
    action_id: str | None
    duplicate: bool
    enqueue: bool


SELECT_STATE = """
SELECT applied_updated_at, cancelled_at, address_fingerprint FROM order_states
WHERE shop = :shop AND order_id = :order_id"""

# The order's state read, its time first moved up to the event's (`:seen`) if that is newer.
# An event that is not older than the state is the newest known of the order, whatever it then
# does: it asks for an action, or its address is found to be the one held (which writes nothing
# else, so the move must happen here), or it is an address edit of a cancelled order (nothing
# is done for such an order's address any more). Any event older than it is stale: after the
# move, that is one whose time is earlier than the time read back. One statement, as the plain
# read was; on PostgreSQL it locks the row until commit, as SELECT ... FOR UPDATE did.
ADVANCE_STATE = """
UPDATE order_states SET
    applied_updated_at = CASE
        WHEN applied_updated_at IS NULL OR applied_updated_at < :seen
        THEN :seen ELSE applied_updated_at END,
    updated_at = CASE
        WHEN applied_updated_at IS NULL OR applied_updated_at < :seen
        THEN :now ELSE updated_at END
WHERE shop = :shop AND order_id = :order_id
RETURNING applied_updated_at, cancelled_at, address_fingerprint"""

# PostgreSQL: the order's state read and its row locked until commit, so that the recordings
# of one order's events run one after the other. A waiting recording then reads what the
# other committed (READ COMMITTED re-reads a locked row once it is released).
SELECT_STATE_FOR_UPDATE = SELECT_STATE + "\nFOR UPDATE"

# PostgreSQL, an order with no state yet: an empty state row, inserted to be held. A recording
# that inserts it at the same time waits for this one to commit, then finds nothing returned.
INSERT_EMPTY_STATE = """
INSERT INTO order_states (shop, order_id, updated_at) VALUES (:shop, :order_id, :now)
ON CONFLICT (shop, order_id) DO NOTHING
RETURNING applied_updated_at, cancelled_at, address_fingerprint"""

INSERT_ACTION = """
INSERT INTO actions (id, shop, order_id, order_name, order_gid, reference, kind, dedupe_key,
    event_updated_at, state, detail, attempts, dry_run, created_at, updated_at, report_state)
VALUES (:id, :shop, :order_id, :order_name, :order_gid, :reference, :kind, :dedupe_key,
    :event_updated_at, 'pending', :detail, 0, :dry_run, :created_at, :created_at, 'none')
ON CONFLICT (shop, order_id, dedupe_key) DO NOTHING
RETURNING id"""

SELECT_ACTION_ID = """
SELECT id FROM actions WHERE shop = :shop AND order_id = :order_id AND dedupe_key = :dedupe_key"""

# The applied time only ever moves forward; a fingerprint or cancellation, once known, stays
# unless a newer one is given.
UPSERT_STATE = """
INSERT INTO order_states (shop, order_id, updated_at, applied_updated_at, address_fingerprint,
    cancelled_at)
VALUES (:shop, :order_id, :now, :applied, :fingerprint, :cancelled)
ON CONFLICT (shop, order_id) DO UPDATE SET
    updated_at = excluded.updated_at,
    applied_updated_at = CASE
        WHEN order_states.applied_updated_at IS NULL
            OR order_states.applied_updated_at < excluded.applied_updated_at
        THEN excluded.applied_updated_at ELSE order_states.applied_updated_at END,
    address_fingerprint = COALESCE(excluded.address_fingerprint, order_states.address_fingerprint),
    cancelled_at = COALESCE(order_states.cancelled_at, excluded.cancelled_at)"""

SUPERSEDE_WAITING = """
UPDATE actions SET state = :done, outcome = :superseded, reason = 'address.superseded',
    message = :message, finished_at = :now, updated_at = :now, report_state = :no_report
WHERE shop = :shop AND order_id = :order_id AND kind = :kind AND state = :pending
    AND attempts = 0 AND dedupe_key <> :dedupe_key"""

INSERT_DELIVERY = """
INSERT INTO deliveries (shop, webhook_id, event_id, topic, api_version, triggered_at,
    received_at, order_id, event_updated_at, result, reason, action_id, payload, duplicates)
VALUES (:shop, :webhook_id, :event_id, :topic, :api_version, :triggered_at, :received_at,
    :order_id, :event_updated_at, :result, :reason, :action_id, :payload, 0)"""

COUNT_DUPLICATE = """
UPDATE deliveries SET duplicates = duplicates + 1, last_duplicate_at = :now
WHERE shop = :shop AND webhook_id = :webhook_id"""

SELECT_DUPLICATE = """
SELECT d.result, d.action_id, a.state FROM deliveries d LEFT JOIN actions a ON a.id = d.action_id
WHERE d.shop = :shop AND d.webhook_id = :webhook_id"""


class DeliveryRecorder:
    """Records deliveries through the engine's pooled driver connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._turns = WriteTurns.for_engine(engine, SQLITE_BUSY_TIMEOUT_SECONDS)
        self._statements: dict[str, str] = {}

    def record(self, delivery: NewDelivery, intent: Intent | None) -> Recorded:
        """Store a delivery and what it asks for, in one transaction.

        A delivery seen before (same shop and webhook id) changes nothing but its duplicate
        count. An event older than the newest one recorded for its order (applied, or found to
        carry the address already held) is stored as `stale`.
        A second delivery of an event that already has an action points at that action.
        """
        try:
            with self._transaction() as run:
                return self._record(run, delivery, intent)
        except sa.exc.IntegrityError as error:
            # The delivery id is taken: a repeat of a recorded delivery. (Everything else
            # this transaction writes is an upsert or ON CONFLICT DO NOTHING.)
            with self._transaction() as run:
                duplicate = self._duplicate(run, delivery)
            if duplicate is None:
                raise error
            return duplicate

    def _record(self, run: _Run, delivery: NewDelivery, intent: Intent | None) -> Recorded:
        result, reason, action_id, enqueue = delivery.result, delivery.reason, None, False
        if intent is not None:
            result, reason, action_id, enqueue = self._route(run, intent)
        run(
            INSERT_DELIVERY,
            shop=delivery.shop,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            topic=delivery.topic,
            api_version=delivery.api_version,
            triggered_at=_time(delivery.triggered_at),
            received_at=_time(delivery.received_at),
            order_id=delivery.order_id,
            event_updated_at=_time(delivery.event_updated_at),
            result=result,
            reason=reason,
            action_id=action_id,
            payload=delivery.payload,
        )
        return Recorded(result, action_id, duplicate=False, enqueue=enqueue)

    def _route(self, run: _Run, intent: Intent) -> tuple[str, str | None, str | None, bool]:
        """Decide what the event does: (result, reason, action id, enqueue)."""
        key = {"shop": intent.shop, "order_id": intent.order_id}
        now = _time(intent.created_at)
        updated_at = intent.event_updated_at
        seen = _time(updated_at)
        # The order's time is already moved up to this event's, if it is newer: an address
        # found unchanged below needs no other write for it.
        state = self._read_state(run, key, now, seen)
        applied, cancelled, fingerprint = (
            (_read_time(state[0]), state[1], state[2]) if state else (None, None, None)
        )
        if applied and updated_at and applied > updated_at:
            return "stale", "event.older_than_applied", None, False
        if isinstance(intent, AddressSeen):
            if fingerprint is None:
                self._save_state(run, key, now, applied=seen, fingerprint=intent.fingerprint)
            return "learned", None, None, False
        if intent.kind == ActionKind.ADDRESS_UPDATE:
            if cancelled is not None:
                return "ignored", "order.cancelled", None, False
            if fingerprint is None:
                # No earlier address to compare with: this one becomes the reference.
                self._save_state(run, key, now, applied=seen, fingerprint=intent.fingerprint)
                return "ignored", "address.first_seen", None, False
            if fingerprint == intent.fingerprint:
                return "ignored", "address.unchanged", None, False
            self._supersede_waiting(run, intent, now)
        created = run(
            INSERT_ACTION,
            **key,
            id=intent.id,
            order_name=intent.order_name,
            order_gid=intent.order_gid,
            reference=intent.reference,
            kind=intent.kind,
            dedupe_key=intent.dedupe_key,
            event_updated_at=_time(updated_at),
            detail=json.dumps(intent.detail),
            dry_run=intent.dry_run,
            created_at=now,
        ).fetchone()
        if created is None:
            existing = run(SELECT_ACTION_ID, **key, dedupe_key=intent.dedupe_key).fetchone()
            return "repeat", None, existing[0] if existing else None, False
        cancelled_at = _time(updated_at or intent.created_at)
        self._save_state(
            run,
            key,
            now,
            applied=seen,
            fingerprint=intent.fingerprint,
            cancelled=cancelled_at if intent.kind == ActionKind.CANCEL else None,
        )
        return "accepted", None, intent.id, True

    def _read_state(self, run: _Run, key: dict[str, str], now: str | None, seen: str | None) -> Any:
        """The order's state row, or None; no other recording for the order runs until commit.

        Everything this recording decides (stale, unchanged, which waiting edits it ends) rests
        on this read: two edits of one order recorded side by side must not both decide from
        the state before either. SQLite: BEGIN IMMEDIATE took the database's write lock before
        this read. PostgreSQL: the order's row is locked, in the same statement while the order
        has state (no extra round trip); the first event of an order inserts a row to hold.

        With the event's time `seen`, the read moves the order's time up to it first (see
        ADVANCE_STATE): the row read back holds the later of the two. An order with no state
        yet gets its time where its first state is saved.
        """
        read, params = (ADVANCE_STATE, {"seen": seen, "now": now}) if seen else (None, {})
        if self._sqlite:
            return run(read or SELECT_STATE, **key, **params).fetchone()
        read = read or SELECT_STATE_FOR_UPDATE
        state = run(read, **key, **params).fetchone()
        if state is None:
            state = run(INSERT_EMPTY_STATE, **key, now=now).fetchone()
        if state is None:
            # Another recording inserted the row first and has committed: read what it left.
            state = run(read, **key, **params).fetchone()
        return state

    def _save_state(
        self,
        run: _Run,
        key: dict[str, str],
        now: str | None,
        *,
        applied: str | None = None,
        fingerprint: str | None = None,
        cancelled: str | None = None,
    ) -> None:
        run(
            UPSERT_STATE, **key, now=now, applied=applied, fingerprint=fingerprint,
            cancelled=cancelled,
        )  # fmt: skip

    def _supersede_waiting(self, run: _Run, action: NewAction, now: str | None) -> None:
        """End older address edits of the order that have not started: the newest wins.

        One that has started may have cancelled a Gelato order already; it runs to its end,
        and the new action re-addresses what it leaves. The action of this very event (another
        delivery of it: the store re-emits events under new webhook ids) is never ended here,
        should it exist: this delivery then only repeats it.
        """
        run(
            SUPERSEDE_WAITING,
            shop=action.shop,
            order_id=action.order_id,
            kind=ActionKind.ADDRESS_UPDATE.value,
            dedupe_key=action.dedupe_key,
            pending=ActionState.PENDING.value,
            done=ActionState.DONE.value,
            superseded=Outcome.SUPERSEDED.value,
            no_report=ReportState.NONE.value,
            message=f"{Outcome.SUPERSEDED.sentence} (action {action.id})",
            now=now,
        )

    def _duplicate(self, run: _Run, delivery: NewDelivery) -> Recorded | None:
        """Count a repeated delivery; None when the delivery was not recorded before."""
        key = {"shop": delivery.shop, "webhook_id": delivery.webhook_id}
        run(COUNT_DUPLICATE, **key, now=_time(delivery.received_at))
        row = run(SELECT_DUPLICATE, **key).fetchone()
        if row is None:
            return None
        result, action_id, state = row
        # A pending action may never have reached the queue (Redis was down when it was first
        # received): the store's retry is the moment to enqueue it again.
        return Recorded(result, action_id, duplicate=True, enqueue=state == ActionState.PENDING)

    @contextmanager
    def _transaction(self) -> Iterator[_Run]:
        # SQLite: the writers of this path take turns before BEGIN (see write_turns.py).
        with self._turns.turn() if self._turns else nullcontext(), self._open() as run:
            yield run

    @contextmanager
    def _open(self) -> Iterator[_Run]:
        # Driver errors leave as SQLAlchemy's (the webhook's 503 knows those), a lost
        # connection dropped from the pool: see `driver_connection`.
        with driver_connection(self.engine) as connection:
            cursor = connection.cursor()
            if self._sqlite:
                # BEGIN IMMEDIATE: take the write lock now, so writers queue on the busy
                # timeout instead of failing when a read lock would have to be upgraded.
                cursor.execute("BEGIN IMMEDIATE")

            def run(statement: str, **params: Any) -> Any:
                cursor.execute(self._driver_sql(statement), params)
                return cursor

            yield run
            connection.commit()

    def _driver_sql(self, statement: str) -> str:
        """The statement in the driver's parameter style (`:name` or `%(name)s`)."""
        cached = self._statements.get(statement)
        if cached is None:
            cached = statement
            if self.engine.dialect.paramstyle == "pyformat":
                cached = re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement)
            self._statements[statement] = cached
        return cached


def _time(value: datetime | None) -> str | None:
    """A timestamp as the sync log stores it: naive UTC, fixed width (sorts as text)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _read_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC)
