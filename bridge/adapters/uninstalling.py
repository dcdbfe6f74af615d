"""Uninstalling a shop: its secrets deleted, its row marked, its waiting actions ended, at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bridge.adapters.shop_values import ShopDefaults, Uninstalled
from bridge.adapters.tables import UTCDateTime, actions, shops
from bridge.domain.actions import ActionState, ReportState
from bridge.domain.outcomes import Outcome

UNINSTALLED_MESSAGE = (
    "printbridge was uninstalled from the store before this action ran: nothing was changed "
    "at Gelato."
)


def uninstall_shop(
    engine: Engine, shop: str, at: datetime, now: datetime, defaults: ShopDefaults
) -> Uninstalled:
    """Delete the shop's tokens and Gelato key, mark it uninstalled at `at`, and end its
    waiting actions (`needs_attention`, `shop.uninstalled`), in one transaction.

    Changes nothing when the shop was (re)installed after `at`: a late or retried
    `app/uninstalled` must not undo a newer installation.
    """
    erased = {
        "access_token_encrypted": None,
        "access_token_expires_at": None,
        "refresh_token_encrypted": None,
        "refresh_token_expires_at": None,
        "gelato_api_key_encrypted": None,
        "gelato_key_updated_at": None,
        "updated_at": now,
    }
    statement = _insert(engine)(shops).values(
        domain=shop,
        dry_run=defaults.dry_run,
        order_reference=defaults.order_reference,
        allow_country_change=defaults.allow_country_change,
        uninstalled_at=at,
        updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[shops.c.domain],
        set_={
            **erased,
            "uninstalled_at": sa.func.coalesce(
                shops.c.uninstalled_at, sa.literal(at, UTCDateTime())
            ),
        },
        where=sa.or_(shops.c.installed_at.is_(None), shops.c.installed_at <= at),
    )
    with engine.begin() as connection:
        # RETURNING, not rowcount: psycopg reports no row count for an upsert.
        applied = connection.execute(statement.returning(shops.c.domain)).first() is not None
        if not applied:
            return Uninstalled(applied=False, ended_actions=[])
        waiting = actions.c.state.in_([ActionState.PENDING, ActionState.RETRYING])
        ended = list(
            connection.execute(
                sa.select(actions.c.id).where(actions.c.shop == shop, waiting)
            ).scalars()
        )
        if ended:
            connection.execute(
                actions.update()
                .where(actions.c.id.in_(ended), waiting)
                .values(
                    state=ActionState.DONE,
                    outcome=Outcome.NEEDS_ATTENTION.value,
                    reason="shop.uninstalled",
                    message=UNINSTALLED_MESSAGE,
                    finished_at=now,
                    updated_at=now,
                    next_attempt_at=None,
                    # Its tokens are gone: nothing can be written onto the store order.
                    report_state=ReportState.NONE,
                )
            )
    return Uninstalled(applied=True, ended_actions=ended)


def _insert(engine: Engine) -> Callable[..., Any]:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
