"""The sync log and the customers in it: erase a customer's personal data, erase a shop."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import (
    actions,
    api_calls,
    attempts,
    deliveries,
    metadata,
    order_states,
    shops,
)
from bridge.domain.personal import REDACTED, personal_values, scrub_document, scrub_text

# A body that is not JSON (cut at the size limit) cannot be searched field by field: it goes.
ERASED_BODY = f"{REDACTED} (personal data erased; the body was not JSON)"


@dataclass(frozen=True)
class Erased:
    """What an erasure changed, row counts per table."""

    counts: dict[str, int]

    def __str__(self) -> str:
        return ", ".join(f"{table} {count}" for table, count in self.counts.items())


class PrivacyRecords:
    """Reads and rewrites the sync log for privacy requests; each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def delivery_payload(self, shop: str, webhook_id: str) -> dict[str, Any] | None:
        """The recorded payload (ids only) of one shop-level delivery, or None."""
        with self.engine.connect() as connection:
            text = connection.execute(
                sa.select(deliveries.c.payload).where(
                    deliveries.c.shop == shop, deliveries.c.webhook_id == webhook_id
                )
            ).scalar_one_or_none()
        parsed = _parsed(text)
        return parsed if isinstance(parsed, dict) else None

    def set_delivery_result(self, shop: str, webhook_id: str, result: str, reason: str) -> None:
        """Record how the work a delivery asked for ended."""
        with self.engine.begin() as connection:
            connection.execute(
                deliveries.update()
                .where(deliveries.c.shop == shop, deliveries.c.webhook_id == webhook_id)
                .values(result=result, reason=reason)
            )

    def redact_orders(self, shop: str, order_ids: Iterable[str]) -> Erased:
        """Erase personal data from everything kept about these orders; ids and outcomes stay."""
        ids = sorted(set(order_ids))
        with self.engine.begin() as connection:
            rows = _OrderRows.read(connection, shop, ids)
            values = rows.personal_values()
            for row in rows.deliveries:
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id == row.id)
                    .values(payload=_scrub_body(row.payload, values))
                )
            for row in rows.actions:
                connection.execute(
                    actions.update()
                    .where(actions.c.id == row.id)
                    .values(
                        detail=scrub_document(row.detail or {}, values),
                        message=_scrub_message(row.message, values),
                    )
                )
            for row in rows.calls:
                connection.execute(
                    api_calls.update()
                    .where(api_calls.c.id == row.id)
                    .values(
                        request_body=_scrub_body(row.request_body, values),
                        response_body=_scrub_body(row.response_body, values),
                        error=_scrub_message(row.error, values),
                    )
                )
            for row in rows.attempts:
                connection.execute(
                    attempts.update()
                    .where(attempts.c.id == row.id)
                    .values(message=_scrub_message(row.message, values))
                )
            # A fingerprint of the address is derived from it: it goes too.
            states = connection.execute(
                order_states.update()
                .where(order_states.c.shop == shop, order_states.c.order_id.in_(ids))
                .values(address_fingerprint=None)
            ).rowcount
        return Erased(
            {
                "deliveries": len(rows.deliveries),
                "actions": len(rows.actions),
                "api_calls": len(rows.calls),
                "attempts": len(rows.attempts),
                "order_states": states,
            }
        )

    def erase_shop(self, shop: str) -> Erased:
        """Delete every row of the shop: its sync log, its order state, its installation.

        Every table is covered, those added later too: a table with a `shop` column by it,
        one that refers to actions by the shop's action ids (deleted before the actions).
        """
        of_shop = sa.select(actions.c.id).where(actions.c.shop == shop).scalar_subquery()
        counts: dict[str, int] = {}
        with self.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                condition = _rows_of_shop(table, shop, of_shop)
                if condition is not None:
                    counts[table.name] = connection.execute(
                        table.delete().where(condition)
                    ).rowcount
        return Erased({name: count for name, count in counts.items() if count})


@dataclass
class _OrderRows:
    """The rows of some orders that can hold personal data."""

    deliveries: list[sa.Row[Any]]
    actions: list[sa.Row[Any]]
    calls: list[sa.Row[Any]]
    attempts: list[sa.Row[Any]]

    @classmethod
    def read(cls, connection: sa.Connection, shop: str, ids: list[str]) -> _OrderRows:
        of_orders = (
            sa.select(actions.c.id)
            .where(actions.c.shop == shop, actions.c.order_id.in_(ids))
            .scalar_subquery()
        )
        return cls(
            deliveries=list(
                connection.execute(
                    sa.select(deliveries.c.id, deliveries.c.payload).where(
                        deliveries.c.shop == shop, deliveries.c.order_id.in_(ids)
                    )
                )
            ),
            actions=list(
                connection.execute(
                    sa.select(actions.c.id, actions.c.detail, actions.c.message).where(
                        actions.c.shop == shop, actions.c.order_id.in_(ids)
                    )
                )
            ),
            calls=list(
                connection.execute(
                    sa.select(
                        api_calls.c.id,
                        api_calls.c.request_body,
                        api_calls.c.response_body,
                        api_calls.c.error,
                    ).where(api_calls.c.action_id.in_(of_orders))
                )
            ),
            attempts=list(
                connection.execute(
                    sa.select(attempts.c.id, attempts.c.message).where(
                        attempts.c.action_id.in_(of_orders)
                    )
                )
            ),
        )

    def personal_values(self) -> set[str]:
        documents: list[Any] = [_parsed(row.payload) for row in self.deliveries]
        documents += [row.detail for row in self.actions]
        documents += [_parsed(row.request_body) for row in self.calls]
        documents += [_parsed(row.response_body) for row in self.calls]
        values: set[str] = set()
        for document in documents:
            values |= personal_values(document)
        return values


def _rows_of_shop(
    table: sa.Table, shop: str, of_shop: sa.ScalarSelect[Any]
) -> sa.ColumnElement[bool] | None:
    """Which rows of `table` belong to the shop, or None when none can."""
    if table is shops:
        return shops.c.domain == shop
    if "shop" in table.c:
        return table.c.shop == shop
    for key in table.foreign_keys:
        if key.column is actions.c.id:
            return key.parent.in_(of_shop)
    return None


def _parsed(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _scrub_body(text: str | None, values: set[str]) -> str | None:
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return ERASED_BODY
    return json.dumps(scrub_document(document, values), ensure_ascii=False)


def _scrub_message(text: str | None, values: set[str]) -> str | None:
    return None if text is None else scrub_text(text, values)
