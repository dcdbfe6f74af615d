"""The sync log in SQL: recording deliveries and actions, and the worker's bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions, api_calls, attempts, deliveries, order_states
from bridge.domain.actions import ActionState, ReportState
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
    """An action to create from a delivery."""

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


@dataclass(frozen=True)
class Recorded:
    """What recording a delivery did: its result, and the action to run, if any."""

    result: str
    action_id: str | None
    duplicate: bool
    enqueue: bool


@dataclass(frozen=True)
class ApiCall:
    """One HTTP call to Gelato or the store, as kept for support."""

    service: str
    method: str
    url: str
    request_body: str | None
    status: int | None
    response_body: str | None
    error: str | None
    duration_ms: float
    created_at: datetime


@dataclass(frozen=True)
class ActionRecord:
    """An action as stored."""

    id: str
    shop: str
    order_id: str
    order_name: str | None
    order_gid: str
    reference: str
    kind: str
    state: str
    outcome: str | None
    reason: str | None
    message: str | None
    detail: dict[str, Any]
    attempts: int
    dry_run: bool
    created_at: datetime
    finished_at: datetime | None
    report_state: str

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> ActionRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


class Storage:
    """Reads and writes the sync log; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    # -- the webhook path ---------------------------------------------------------------

    def record_delivery(self, delivery: NewDelivery, action: NewAction | None) -> Recorded:
        """Store a delivery and the action it asks for, in one transaction.

        A delivery seen before (same shop and webhook id) changes nothing but its duplicate
        count. An event older than the one last applied to its order is stored as `stale`.
        A second delivery of an event that already has an action points at that action.
        """
        for _ in range(2):
            try:
                return self._record_delivery(delivery, action)
            except sa.exc.IntegrityError:
                # Another process created the same action between our read and our insert;
                # the second pass sees it.
                continue
        return self._record_delivery(delivery, action)

    def _record_delivery(self, delivery: NewDelivery, action: NewAction | None) -> Recorded:
        with self.engine.begin() as connection:
            try:
                with connection.begin_nested():
                    delivery_id = connection.execute(
                        deliveries.insert()
                        .values(_delivery_values(delivery))
                        .returning(deliveries.c.id)
                    ).scalar_one()
            except sa.exc.IntegrityError:
                return self._duplicate(connection, delivery)
            if action is None:
                return Recorded(delivery.result, None, duplicate=False, enqueue=False)
            result, action_id, enqueue = self._route_action(connection, action, delivery_id)
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id)
                .values(result=result, action_id=action_id)
            )
            return Recorded(result, action_id, duplicate=False, enqueue=enqueue)

    def _route_action(
        self, connection: sa.Connection, action: NewAction, delivery_id: int
    ) -> tuple[str, str | None, bool]:
        applied = connection.execute(
            sa.select(order_states.c.applied_updated_at).where(
                order_states.c.shop == action.shop, order_states.c.order_id == action.order_id
            )
        ).scalar_one_or_none()
        if (
            applied is not None
            and action.event_updated_at is not None
            and action.event_updated_at < applied
        ):
            return "stale", None, False
        existing = connection.execute(
            sa.select(actions.c.id).where(
                actions.c.shop == action.shop,
                actions.c.order_id == action.order_id,
                actions.c.dedupe_key == action.dedupe_key,
            )
        ).scalar_one_or_none()
        if existing is not None:
            return "repeat", existing, False
        now = action.created_at
        connection.execute(
            actions.insert().values(
                id=action.id,
                shop=action.shop,
                order_id=action.order_id,
                order_name=action.order_name,
                order_gid=action.order_gid,
                reference=action.reference,
                kind=action.kind,
                dedupe_key=action.dedupe_key,
                delivery_id=delivery_id,
                event_updated_at=action.event_updated_at,
                state=ActionState.PENDING,
                detail={},
                dry_run=action.dry_run,
                created_at=now,
                updated_at=now,
            )
        )
        self._mark_applied(connection, action.shop, action.order_id, action.event_updated_at, now)
        return "accepted", action.id, True

    def _mark_applied(
        self,
        connection: sa.Connection,
        shop: str,
        order_id: str,
        updated_at: datetime | None,
        now: datetime,
    ) -> None:
        changed = connection.execute(
            order_states.update()
            .where(order_states.c.shop == shop, order_states.c.order_id == order_id)
            .values(
                applied_updated_at=sa.case(
                    (
                        sa.or_(
                            order_states.c.applied_updated_at.is_(None),
                            order_states.c.applied_updated_at < updated_at,
                        ),
                        updated_at,
                    ),
                    else_=order_states.c.applied_updated_at,
                )
                if updated_at is not None
                else order_states.c.applied_updated_at,
                updated_at=now,
            )
        ).rowcount
        if not changed:
            connection.execute(
                order_states.insert().values(
                    shop=shop, order_id=order_id, applied_updated_at=updated_at, updated_at=now
                )
            )

    def _duplicate(self, connection: sa.Connection, delivery: NewDelivery) -> Recorded:
        where = (deliveries.c.shop == delivery.shop) & (
            deliveries.c.webhook_id == delivery.webhook_id
        )
        connection.execute(
            deliveries.update()
            .where(where)
            .values(duplicates=deliveries.c.duplicates + 1, last_duplicate_at=delivery.received_at)
        )
        row = connection.execute(
            sa.select(deliveries.c.result, deliveries.c.action_id, actions.c.state)
            .select_from(deliveries.outerjoin(actions, actions.c.id == deliveries.c.action_id))
            .where(where)
        ).one()
        # A pending action may never have reached the queue (Redis was down when it was first
        # received): the store's retry is the moment to enqueue it again.
        return Recorded(
            row.result, row.action_id, duplicate=True, enqueue=row.state == ActionState.PENDING
        )

    # -- the worker ---------------------------------------------------------------------

    def load_action(self, action_id: str) -> ActionRecord | None:
        """The action with this id, or None."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(actions).where(actions.c.id == action_id))
                .mappings()
                .one_or_none()
            )
        return None if row is None else ActionRecord.from_row(row)

    def start_attempt(self, action_id: str, now: datetime) -> int | None:
        """Mark the action running and open a new attempt; None if it is already finished."""
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(actions.c.state, actions.c.attempts).where(actions.c.id == action_id)
            ).one_or_none()
            if row is None or row.state == ActionState.DONE:
                return None
            number = int(row.attempts) + 1
            connection.execute(
                actions.update()
                .where(actions.c.id == action_id)
                .values(state=ActionState.RUNNING, attempts=number, updated_at=now)
            )
            connection.execute(
                attempts.insert().values(action_id=action_id, number=number, started_at=now)
            )
            return number

    def end_attempt(
        self,
        action_id: str,
        number: int,
        now: datetime,
        *,
        result: str,
        reason: str | None = None,
        message: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        """Close an attempt with its result; a retried one leaves the action `retrying`."""
        with self.engine.begin() as connection:
            connection.execute(
                attempts.update()
                .where(attempts.c.action_id == action_id, attempts.c.number == number)
                .values(
                    finished_at=now,
                    result=result,
                    reason=reason,
                    message=message,
                    retry_in_seconds=retry_in,
                )
            )
            if retry_in is not None:
                connection.execute(
                    actions.update()
                    .where(actions.c.id == action_id, actions.c.state != ActionState.DONE)
                    .values(
                        state=ActionState.RETRYING,
                        reason=reason,
                        message=message,
                        next_attempt_at=now + timedelta(seconds=retry_in),
                        updated_at=now,
                    )
                )

    def close_open_attempts(self, action_id: str, now: datetime, reason: str) -> None:
        """Close attempts a crashed or failed job left open."""
        with self.engine.begin() as connection:
            connection.execute(
                attempts.update()
                .where(attempts.c.action_id == action_id, attempts.c.finished_at.is_(None))
                .values(finished_at=now, result="error", reason=reason)
            )

    def save_detail(self, action_id: str, detail: dict[str, Any], now: datetime) -> None:
        """Keep what is known per Gelato order, so a retry builds on it."""
        with self.engine.begin() as connection:
            connection.execute(
                actions.update()
                .where(actions.c.id == action_id)
                .values(detail=detail, updated_at=now)
            )

    def finish_action(
        self,
        action_id: str,
        now: datetime,
        *,
        outcome: Outcome,
        reason: str | None,
        message: str,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Give the action its one outcome; False if it had one already."""
        values: dict[str, Any] = {
            "state": ActionState.DONE,
            "outcome": outcome.value,
            "reason": reason,
            "message": message,
            "finished_at": now,
            "updated_at": now,
            "next_attempt_at": None,
            "report_state": ReportState.PENDING,
        }
        if detail is not None:
            values["detail"] = detail
        with self.engine.begin() as connection:
            changed = connection.execute(
                actions.update()
                .where(actions.c.id == action_id, actions.c.state != ActionState.DONE)
                .values(**values)
            ).rowcount
        return bool(changed)

    def record_api_call(self, action_id: str, attempt: int | None, call: ApiCall) -> None:
        """Keep one API call and its answer for the sync log."""
        with self.engine.begin() as connection:
            connection.execute(
                api_calls.insert().values(action_id=action_id, attempt=attempt, **call.__dict__)
            )
            if call.service == "gelato":
                connection.execute(
                    actions.update()
                    .where(actions.c.id == action_id, actions.c.first_gelato_call_at.is_(None))
                    .values(first_gelato_call_at=call.created_at)
                )

    def set_report_state(
        self, action_id: str, state: ReportState, now: datetime, reason: str | None = None
    ) -> None:
        """Record how writing the outcome onto the store order went."""
        with self.engine.begin() as connection:
            connection.execute(
                actions.update()
                .where(actions.c.id == action_id)
                .values(
                    report_state=state,
                    report_reason=reason,
                    reported_at=now if state == ReportState.DONE else None,
                    updated_at=now,
                )
            )


def _delivery_values(delivery: NewDelivery) -> dict[str, Any]:
    return dict(delivery.__dict__)
