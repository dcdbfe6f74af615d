"""Intake: a verified delivery becomes a sync-log record and, where it asks for one, an action."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa

from bridge.adapters.recording import AddressSeen, Intent, NewAction, NewDelivery, Recorded
from bridge.adapters.shops import ShopAccess
from bridge.domain.actions import ActionKind, address_dedupe_key, cancel_dedupe_key
from bridge.domain.errors import PayloadError, Unavailable
from bridge.domain.events import OrderEvent, parse_order_event
from bridge.logs import bind
from bridge.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skip:
    """An event that asks for nothing, and why; the delivery is still recorded."""

    reason: str


Plan = Callable[[OrderEvent, ShopAccess, datetime], Intent | Skip]


@dataclass(frozen=True)
class Incoming:
    """A delivery whose signature has been verified."""

    shop: str
    webhook_id: str
    event_id: str | None
    topic: str
    api_version: str | None
    triggered_at: datetime | None
    received_at: datetime
    body: bytes


def plan_cancellation(event: OrderEvent, access: ShopAccess, now: datetime) -> Intent | Skip:
    """An `orders/cancelled` event asks for a cancel action, keyed by its cancellation time."""
    if event.cancelled_at is None:
        return Skip("order.not_cancelled")
    dedupe_key = cancel_dedupe_key(event.cancelled_at.isoformat())
    return _action(event, access, now, ActionKind.CANCEL, dedupe_key)


def plan_address_update(event: OrderEvent, access: ShopAccess, now: datetime) -> Intent | Skip:
    """An `orders/updated` event asks for a reissue only if the shipping address changed.

    Whether it changed is decided against the stored fingerprint while the delivery is
    recorded; here the event is only read. No Gelato call is made on the webhook path.
    """
    if event.cancelled_at is not None:
        return Skip("order.cancelled")
    if event.shipping_address is None:
        return Skip(event.address_problem or "address.missing")
    fingerprint = event.shipping_address.fingerprint()
    updated = event.updated_at.isoformat() if event.updated_at else None
    return _action(
        event,
        access,
        now,
        ActionKind.ADDRESS_UPDATE,
        address_dedupe_key(updated, fingerprint),
        fingerprint=fingerprint,
        detail={"address": event.shipping_address.as_gelato()},
    )


def _action(
    event: OrderEvent,
    access: ShopAccess,
    now: datetime,
    kind: ActionKind,
    dedupe_key: str,
    **extra: Any,
) -> NewAction | Skip:
    reference = event.reference(access.order_reference)
    if reference is None:
        return Skip("payload.missing_reference")
    return NewAction(
        id=uuid.uuid4().hex,
        shop=access.shop,
        order_id=event.order_id,
        order_name=event.name,
        order_gid=event.admin_graphql_api_id,
        reference=reference,
        kind=kind,
        dedupe_key=dedupe_key,
        event_updated_at=event.updated_at,
        dry_run=access.dry_run,
        created_at=now,
        **extra,
    )


def plan_order_created(event: OrderEvent, access: ShopAccess, now: datetime) -> Intent | Skip:
    """An `orders/create` event teaches the order's first shipping address."""
    if event.shipping_address is None:
        return Skip(event.address_problem or "address.missing")
    return AddressSeen(
        shop=access.shop,
        order_id=event.order_id,
        fingerprint=event.shipping_address.fingerprint(),
        event_updated_at=event.updated_at,
        created_at=now,
    )


def receive(services: Services, incoming: Incoming, plan: Plan) -> Recorded:
    """Record the delivery and its action durably, then queue the action.

    Raises PayloadError (after recording the delivery as rejected) for a body that cannot be
    acted on, and Unavailable when the database or Redis cannot be reached.
    """
    with unavailable_on_outage(incoming.webhook_id):
        return _receive(services, incoming, plan)


@contextmanager
def unavailable_on_outage(webhook_id: str) -> Iterator[None]:
    """Turn a database or Redis failure into Unavailable, which the webhook answers with 503."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        log.exception("delivery %s not recorded: database error", webhook_id)
        raise Unavailable("storage.unavailable", "could not record the delivery") from error
    except redis.RedisError as error:
        # The delivery is recorded; the store's retry queues its work again.
        log.exception("delivery %s recorded but not queued: Redis error", webhook_id)
        raise Unavailable("queue.unavailable", "could not queue the delivery") from error


def _receive(services: Services, incoming: Incoming, plan: Plan) -> Recorded:
    try:
        event = parse_order_event(_parse_json(incoming.body))
    except PayloadError as error:
        services.storage.record_delivery(
            delivery_of(incoming, None, "rejected", error.reason), None
        )
        raise
    access = services.shops.get(incoming.shop)
    if access is None:
        return services.storage.record_delivery(
            delivery_of(incoming, event, "unknown_shop", "shop.unknown"), None
        )
    if not access.installed:
        # Acknowledged so the store stops sending it; recorded so support sees why.
        return services.storage.record_delivery(
            delivery_of(incoming, event, "ignored", "shop.uninstalled"), None
        )
    intent = plan(event, access, incoming.received_at)
    if isinstance(intent, Skip):
        delivery = delivery_of(incoming, event, "ignored", intent.reason)
        return services.storage.record_delivery(delivery, None)
    recorded = services.storage.record_delivery(
        delivery_of(incoming, event, "recorded", None), intent
    )
    if recorded.action_id is not None:
        bind(action_id=recorded.action_id)
    if recorded.enqueue and recorded.action_id is not None:
        if recorded.duplicate:
            services.queue.enqueue_action(recorded.action_id)
        else:
            services.queue.enqueue_new_action(recorded.action_id)
    return recorded


def _parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("payload.not_json", "the body is not JSON") from None


def delivery_of(
    incoming: Incoming,
    event: OrderEvent | None,
    result: str,
    reason: str | None,
    payload: str | None = None,
) -> NewDelivery:
    """The sync-log record of a delivery; `payload` replaces the body when given."""
    return NewDelivery(
        shop=incoming.shop,
        webhook_id=incoming.webhook_id,
        event_id=incoming.event_id,
        topic=incoming.topic,
        api_version=incoming.api_version,
        triggered_at=incoming.triggered_at,
        received_at=incoming.received_at,
        order_id=event.order_id if event else None,
        event_updated_at=event.updated_at if event else None,
        payload=incoming.body.decode("utf-8", "replace") if payload is None else payload,
        result=result,
        reason=reason,
    )
