"""The sync log in SQL: recording deliveries and actions, and the worker's bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.database import driver_connection
from bridge.adapters.recording import (
    DeliveryRecorder,
    Intent,
    NewAction,
    NewDelivery,
    Recorded,
)
from bridge.adapters.tables import (
    action_gelato_orders,
    actions,
    api_calls,
    attempts,
    order_states,
)
from bridge.domain.actions import ActionKind, ActionState, ReportState
from bridge.domain.outcomes import Outcome


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
        self._recorder = DeliveryRecorder(engine)

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        # On the driver connection, outside a transaction: every SQLAlchemy transaction on
        # SQLite begins IMMEDIATE (a writer), and readiness must not queue for the write lock
        # behind webhooks, nor hold it from them.
        with driver_connection(self.engine) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()

    # -- the webhook path ---------------------------------------------------------------

    def record_delivery(self, delivery: NewDelivery, intent: Intent | None) -> Recorded:
        """Store a delivery and what it asks for in one transaction (see `recording`)."""
        return self._recorder.record(delivery, intent)

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
            # An attempt still open belonged to a worker that died mid-job: say so.
            connection.execute(
                attempts.update()
                .where(attempts.c.action_id == action_id, attempts.c.finished_at.is_(None))
                .values(finished_at=now, result="interrupted", reason="worker.lost")
            )
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

    def newer_address_action(self, action: ActionRecord) -> bool:
        """Whether a later address edit of the same order is waiting or running."""
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(actions.c.id)
                .where(
                    actions.c.shop == action.shop,
                    actions.c.order_id == action.order_id,
                    actions.c.kind == ActionKind.ADDRESS_UPDATE,
                    actions.c.state != ActionState.DONE,
                    actions.c.created_at > action.created_at,
                )
                .limit(1)
            ).first()
        return found is not None

    def set_gelato_order_ids(self, shop: str, order_id: str, ids: list[str]) -> None:
        """Remember which Gelato orders are the store order's live ones now."""
        with self.engine.begin() as connection:
            connection.execute(
                order_states.update()
                .where(order_states.c.shop == shop, order_states.c.order_id == order_id)
                .values(gelato_order_ids=ids)
            )

    def save_detail(self, action_id: str, detail: dict[str, Any], now: datetime) -> None:
        """Keep what is known per Gelato order, so a retry builds on it."""
        with self.engine.begin() as connection:
            connection.execute(
                actions.update()
                .where(actions.c.id == action_id)
                .values(detail=detail, updated_at=now)
            )
            _link_gelato_orders(connection, action_id, detail)

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
            if changed and detail is not None:
                _link_gelato_orders(connection, action_id, detail)
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


def gelato_order_ids(detail: dict[str, Any]) -> list[str]:
    """Every Gelato order id an action's detail names: its parts and their replacements."""
    found: dict[str, None] = {}
    parts = detail.get("parts") or {}
    listed = detail.get("gelato_orders") or []
    for key, part in [*parts.items(), *((entry.get("id"), entry) for entry in listed)]:
        for value in (key, part.get("replaced_by"), part.get("draft_id")):
            if isinstance(value, str) and value:
                found[value[:64]] = None
    return list(found)


def _link_gelato_orders(connection: sa.Connection, action_id: str, detail: dict[str, Any]) -> None:
    """Keep the index from Gelato order ids to this action up to date (support's search)."""
    ids = gelato_order_ids(detail)
    if not ids:
        return
    known = set(
        connection.execute(
            sa.select(action_gelato_orders.c.gelato_order_id).where(
                action_gelato_orders.c.action_id == action_id
            )
        ).scalars()
    )
    new = [{"gelato_order_id": id_, "action_id": action_id} for id_ in ids if id_ not in known]
    if new:
        connection.execute(action_gelato_orders.insert(), new)


__all__ = ["ActionRecord", "ApiCall", "NewAction", "NewDelivery", "Recorded", "Storage"]
