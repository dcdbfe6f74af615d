"""Rows for the sync-log tests: deliveries, actions and API calls, and a migrated engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from bridge.adapters.database import make_engine
from bridge.adapters.migrate import upgrade
from bridge.adapters.storage import ApiCall, NewAction, NewDelivery
from bridge.domain.actions import cancel_dedupe_key
from tests.conftest import SHOP

ORDER_ID = "820982911946154508"
EST = timezone(timedelta(hours=-5))
UPDATED = datetime(2026, 11, 20, 11, 31, 25, tzinfo=EST)
NOW = datetime(2026, 11, 20, 16, 31, 26, 500000, tzinfo=UTC)
CANCEL_KEY = cancel_dedupe_key("2026-11-20T11:31:25-05:00")


@contextmanager
def migrated_engine(url: str) -> Iterator[Engine]:
    """An engine on a database brought to the newest schema by the Alembic migrations."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def delivery(webhook_id: str | None = None, **changes: object) -> NewDelivery:
    """A cancellation delivery for ORDER_ID, with `changes`."""
    made = NewDelivery(
        shop=SHOP,
        webhook_id=webhook_id or str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        topic="orders/cancelled",
        api_version="2026-07",
        triggered_at=NOW,
        received_at=NOW,
        order_id=ORDER_ID,
        event_updated_at=UPDATED,
        payload='{"id": 820982911946154508}',
        result="accepted",
    )
    return replace(made, **changes)


def action(dedupe_key: str = CANCEL_KEY, **changes: object) -> NewAction:
    """A cancel action for ORDER_ID, with a fresh id and `changes`."""
    made = NewAction(
        id=uuid.uuid4().hex,
        shop=SHOP,
        order_id=ORDER_ID,
        order_name="#4508",
        order_gid=f"gid://shopify/Order/{ORDER_ID}",
        reference=ORDER_ID,
        kind="cancel",
        dedupe_key=dedupe_key,
        event_updated_at=UPDATED,
        dry_run=False,
        created_at=NOW,
    )
    return replace(made, **changes)


def api_call(at: datetime, service: str = "gelato", status: int | None = 200) -> ApiCall:
    """One recorded call to `service` at `at`."""
    return ApiCall(
        service=service,
        method="POST",
        url="https://gelato.test/v4/orders:search",
        request_body='{"orderReferenceIds": ["820982911946154508"]}',
        status=status,
        response_body='{"orders": []}',
        error=None,
        duration_ms=1.5,
        created_at=at,
    )
