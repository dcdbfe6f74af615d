"""Recording a delivery: the one transaction on the webhook path, and what it decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import UTCDateTime, actions, deliveries, order_states
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


@dataclass(frozen=True)
class Recorded:
    """What recording a delivery did: its result, and the action to run, if any."""

    result: str
    action_id: str | None
    duplicate: bool
    enqueue: bool


@dataclass(frozen=True)
class _OrderState:
    applied_updated_at: datetime | None
    cancelled_at: datetime | None
    fingerprint: str | None


def record_delivery(engine: Engine, delivery: NewDelivery, intent: Intent | None) -> Recorded:
    """Store a delivery and what it asks for, in one transaction.

    A delivery seen before (same shop and webhook id) changes nothing but its duplicate count.
    An event older than the one last applied to its order is stored as `stale`. A second
    delivery of an event that already has an action points at that action.
    """
    for _ in range(3):
        try:
            with engine.begin() as connection:
                return _record(connection, delivery, intent)
        except sa.exc.IntegrityError:
            # Either this delivery was recorded before (a duplicate), or another process
            # created the same action or order state between our read and our write; the
            # next pass tells which, in a fresh transaction.
            with engine.begin() as connection:
                duplicate = _duplicate(connection, delivery)
            if duplicate is not None:
                return duplicate
    raise RuntimeError(f"delivery {delivery.webhook_id} could not be recorded after 3 tries")


def _record(connection: sa.Connection, delivery: NewDelivery, intent: Intent | None) -> Recorded:
    result, reason, action_id, enqueue = delivery.result, delivery.reason, None, False
    if intent is not None:
        result, reason, action_id, enqueue = _route(connection, intent, delivery)
    connection.execute(
        deliveries.insert().values(
            {**delivery.__dict__, "result": result, "reason": reason, "action_id": action_id}
        )
    )
    return Recorded(result, action_id, duplicate=False, enqueue=enqueue)


def _route(
    connection: sa.Connection, intent: Intent, delivery: NewDelivery
) -> tuple[str, str | None, str | None, bool]:
    """Decide what the event does: (result, reason, action id, enqueue)."""
    state = _order_state(connection, intent.shop, intent.order_id)
    updated_at = intent.event_updated_at
    if state and state.applied_updated_at and updated_at and updated_at < state.applied_updated_at:
        return "stale", "event.older_than_applied", None, False
    if isinstance(intent, AddressSeen):
        if state is None or state.fingerprint is None:
            _save_state(connection, intent.shop, intent.order_id, intent.created_at,
                        fingerprint=intent.fingerprint)  # fmt: skip
        return "learned", None, None, False
    if intent.kind == ActionKind.ADDRESS_UPDATE:
        if state is not None and state.cancelled_at is not None:
            return "ignored", "order.cancelled", None, False
        if state is None or state.fingerprint is None:
            # No earlier address to compare with: this one becomes the reference.
            _save_state(connection, intent.shop, intent.order_id, intent.created_at,
                        fingerprint=intent.fingerprint)  # fmt: skip
            return "ignored", "address.first_seen", None, False
        if state.fingerprint == intent.fingerprint:
            return "ignored", "address.unchanged", None, False
    existing = connection.execute(
        sa.select(actions.c.id).where(
            actions.c.shop == intent.shop,
            actions.c.order_id == intent.order_id,
            actions.c.dedupe_key == intent.dedupe_key,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return "repeat", None, existing, False
    if intent.kind == ActionKind.ADDRESS_UPDATE:
        _supersede_waiting_address_actions(connection, intent)
    _insert_action(connection, intent)
    _save_state(
        connection,
        intent.shop,
        intent.order_id,
        intent.created_at,
        applied=updated_at,
        fingerprint=intent.fingerprint,
        cancelled=intent.event_updated_at or intent.created_at
        if intent.kind == ActionKind.CANCEL
        else None,
    )
    return "accepted", None, intent.id, True


def _order_state(connection: sa.Connection, shop: str, order_id: str) -> _OrderState | None:
    row = connection.execute(
        sa.select(
            order_states.c.applied_updated_at,
            order_states.c.cancelled_at,
            order_states.c.address_fingerprint,
        ).where(order_states.c.shop == shop, order_states.c.order_id == order_id)
    ).one_or_none()
    return None if row is None else _OrderState(*row)


def _save_state(
    connection: sa.Connection,
    shop: str,
    order_id: str,
    now: datetime,
    *,
    applied: datetime | None = None,
    fingerprint: str | None = None,
    cancelled: datetime | None = None,
) -> None:
    """Upsert the order's state; the applied time only ever moves forward."""
    values: dict[str, Any] = {"updated_at": now}
    if fingerprint is not None:
        values["address_fingerprint"] = fingerprint
    if cancelled is not None:
        values["cancelled_at"] = cancelled
    if applied is not None:
        column = order_states.c.applied_updated_at
        # Typed literal: a bare datetime inside CASE would skip UTCDateTime's conversion.
        value = sa.literal(applied, type_=UTCDateTime())
        values["applied_updated_at"] = sa.case(
            (sa.or_(column.is_(None), column < value), value), else_=column
        )
    where = (order_states.c.shop == shop) & (order_states.c.order_id == order_id)
    if connection.execute(order_states.update().where(where).values(values)).rowcount:
        return
    connection.execute(
        order_states.insert().values(
            shop=shop,
            order_id=order_id,
            updated_at=now,
            applied_updated_at=applied,
            address_fingerprint=fingerprint,
            cancelled_at=cancelled,
        )
    )


def _supersede_waiting_address_actions(connection: sa.Connection, action: NewAction) -> None:
    """End older address edits of the order that have not started: the newest wins.

    One that has started may have cancelled a Gelato order already; it runs to its end, and
    the new action re-addresses what it leaves.
    """
    connection.execute(
        actions.update()
        .where(
            actions.c.shop == action.shop,
            actions.c.order_id == action.order_id,
            actions.c.kind == ActionKind.ADDRESS_UPDATE,
            actions.c.state == ActionState.PENDING,
            actions.c.attempts == 0,
        )
        .values(
            state=ActionState.DONE,
            outcome=Outcome.SUPERSEDED.value,
            reason="address.superseded",
            message=f"{Outcome.SUPERSEDED.sentence} (action {action.id})",
            finished_at=action.created_at,
            updated_at=action.created_at,
            report_state=ReportState.NONE,
        )
    )


def _insert_action(connection: sa.Connection, action: NewAction) -> None:
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
            event_updated_at=action.event_updated_at,
            state=ActionState.PENDING,
            detail=action.detail,
            dry_run=action.dry_run,
            created_at=action.created_at,
            updated_at=action.created_at,
        )
    )


def _duplicate(connection: sa.Connection, delivery: NewDelivery) -> Recorded | None:
    """Count a repeated delivery; None when the delivery was not recorded before."""
    where = (deliveries.c.shop == delivery.shop) & (deliveries.c.webhook_id == delivery.webhook_id)
    changed = connection.execute(
        deliveries.update()
        .where(where)
        .values(duplicates=deliveries.c.duplicates + 1, last_duplicate_at=delivery.received_at)
    ).rowcount
    if not changed:
        return None
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
