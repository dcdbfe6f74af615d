"""The console's lists: actions searched and filtered, and the needs-attention queue.

Every query takes `scope`, the shops the viewer may see (None: all), and filters by it. Lists
are paged by keyset (the last row's creation time and id), so page 500 costs what page 1
does, and each filter has an index (`tables.py`). Free text never scans: it is resolved to
orders through exact matches on indexed columns (order name, store order id, Gelato order id,
delivery id, action id), then the actions of those orders are listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import action_gelato_orders, actions, attention_notes, deliveries
from bridge.domain.outcomes import Outcome

PAGE_SIZE = 50
COUNT_CAP = 10_000
MAX_ORDERS = 100
ATTENTION_OUTCOMES = (Outcome.NEEDS_ATTENTION.value, Outcome.NOT_FOUND.value)
OPEN = "open"
_ACTION_ID = re.compile(r"[0-9a-f]{32}")

Scope = tuple[str, ...] | None


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field optional."""

    shop: str | None = None
    outcome: str | None = None
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    text: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's creation time and id."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        """The cursor as a URL parameter."""
        return f"{self.created_at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor of a URL parameter; None when absent or malformed."""
        if not text or "~" not in text:
            return None
        at, _, id_ = text.partition("~")
        try:
            created_at = datetime.fromisoformat(at)
        except ValueError:
            return None
        if created_at.tzinfo is None:
            return None
        return cls(created_at, id_[:32])


@dataclass(frozen=True)
class ActionRow:
    """One action as lists show it."""

    id: str
    shop: str
    order_id: str
    order_name: str | None
    kind: str
    state: str
    outcome: str | None
    reason: str | None
    message: str | None
    dry_run: bool
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    report_state: str


@dataclass(frozen=True)
class Note:
    """How an action of the needs-attention queue was dealt with."""

    handled_by: str
    handled_at: datetime
    note: str


@dataclass(frozen=True)
class Page:
    """One page of a list, the cursor of the next, and how many rows match in all."""

    rows: list[ActionRow]
    next: Cursor | None
    total: int
    capped: bool
    orders: list[tuple[str, str]]
    notes: dict[str, Note]


_COLUMNS = [actions.c[name] for name in ActionRow.__dataclass_fields__]


def _scoped(query: sa.Select[Any], scope: Scope) -> sa.Select[Any]:
    if scope is None:
        return query
    return query.where(actions.c.shop.in_(scope))


class SupportQueries:
    """Read models of the support console."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def action(self, action_id: str, scope: Scope) -> ActionRow | None:
        """One action, or None when it does not exist or lies outside the scope."""
        query = _scoped(sa.select(*_COLUMNS).where(actions.c.id == action_id), scope)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().one_or_none()
        return None if row is None else ActionRow(**row)

    def actions(self, scope: Scope, filters: Filters, after: Cursor | None) -> Page:
        """Actions matching the filters, newest first, one page after `after`."""
        with self.engine.connect() as connection:
            orders: list[tuple[str, str]] = []
            query = _scoped(sa.select(*_COLUMNS), scope)
            if filters.text:
                ids, orders = _resolve(connection, filters.text.strip(), scope)
                if not ids and not orders:
                    return Page([], None, 0, False, [], {})
                query = query.where(_matching(ids, orders))
            query = _filtered(query, filters)
            total, capped = _count(connection, query)
            if after is not None:
                query = query.where(
                    actions.c.created_at <= after.created_at,
                    sa.or_(actions.c.created_at < after.created_at, actions.c.id < after.id),
                )
            query = query.order_by(actions.c.created_at.desc(), actions.c.id.desc())
            rows = _rows(connection, query.limit(PAGE_SIZE + 1))
        return Page(rows[:PAGE_SIZE], _next(rows), total, capped, orders, {})

    def attention(self, scope: Scope, after: Cursor | None) -> Page:
        """Unhandled actions that ended needs_attention or not_found, oldest first."""
        handled = sa.select(attention_notes.c.action_id).where(
            attention_notes.c.action_id == actions.c.id
        )
        query = _scoped(sa.select(*_COLUMNS), scope).where(
            actions.c.outcome.in_(ATTENTION_OUTCOMES), ~handled.exists()
        )
        with self.engine.connect() as connection:
            total, capped = _count(connection, query)
            if after is not None:
                query = query.where(
                    actions.c.created_at >= after.created_at,
                    sa.or_(actions.c.created_at > after.created_at, actions.c.id > after.id),
                )
            query = query.order_by(actions.c.created_at, actions.c.id)
            rows = _rows(connection, query.limit(PAGE_SIZE + 1))
        return Page(rows[:PAGE_SIZE], _next(rows), total, capped, [], {})

    def handled(self, scope: Scope, limit: int = PAGE_SIZE) -> Page:
        """The actions of the queue handled most recently, with their notes."""
        query = (
            _scoped(sa.select(*_COLUMNS, *attention_notes.c), scope)
            .join(attention_notes, attention_notes.c.action_id == actions.c.id)
            .order_by(attention_notes.c.handled_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            found = list(connection.execute(query).mappings())
        rows = [
            ActionRow(**{name: row[name] for name in ActionRow.__dataclass_fields__})
            for row in found
        ]
        notes = {
            row["id"]: Note(row["handled_by"], row["handled_at"], row["note"]) for row in found
        }
        return Page(rows, None, len(rows), False, [], notes)

    def notes(self, action_ids: list[str]) -> dict[str, Note]:
        """The handled notes of these actions, by action id."""
        if not action_ids:
            return {}
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(attention_notes).where(attention_notes.c.action_id.in_(action_ids))
            ).mappings()
            return {
                row["action_id"]: Note(row["handled_by"], row["handled_at"], row["note"])
                for row in found
            }


def _filtered(query: sa.Select[Any], filters: Filters) -> sa.Select[Any]:
    if filters.shop:
        query = query.where(actions.c.shop == filters.shop)
    if filters.outcome == OPEN:
        query = query.where(actions.c.outcome.is_(None))
    elif filters.outcome:
        query = query.where(actions.c.outcome == filters.outcome)
    if filters.kind:
        query = query.where(actions.c.kind == filters.kind)
    if filters.since:
        query = query.where(actions.c.created_at >= _midnight(filters.since))
    if filters.until:
        query = query.where(actions.c.created_at < _midnight(filters.until + timedelta(days=1)))
    return query


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _resolve(
    connection: sa.Connection, text: str, scope: Scope
) -> tuple[list[str], list[tuple[str, str]]]:
    """Action ids and (shop, store order id) pairs that `text` names exactly."""
    text = text[:255]
    names = [text, f"#{text}"] if not text.startswith("#") else [text]
    ids: list[str] = []
    if _ACTION_ID.fullmatch(text.lower()):
        ids.append(text.lower())
    by_gelato = sa.select(action_gelato_orders.c.action_id).where(
        action_gelato_orders.c.gelato_order_id == text
    )
    order_of_action = sa.select(actions.c.shop, actions.c.order_id)
    queries = [
        order_of_action.where(actions.c.order_name.in_(names)),
        order_of_action.where(actions.c.order_id == text),
        order_of_action.where(actions.c.id.in_(by_gelato)),
        sa.select(deliveries.c.shop, deliveries.c.order_id).where(
            deliveries.c.webhook_id == text, deliveries.c.order_id.is_not(None)
        ),
    ]
    found: dict[tuple[str, str], None] = {}
    for query in queries:
        for shop, order_id in connection.execute(query.distinct().limit(MAX_ORDERS)):
            if scope is None or shop in scope:
                found[(shop, order_id)] = None
    return ids, list(found)[:MAX_ORDERS]


def _matching(ids: list[str], orders: list[tuple[str, str]]) -> sa.ColumnElement[bool]:
    conditions = [
        sa.and_(actions.c.shop == shop, actions.c.order_id == order) for shop, order in orders
    ]
    if ids:
        conditions.append(actions.c.id.in_(ids))
    return sa.or_(*conditions)


def _count(connection: sa.Connection, query: sa.Select[Any]) -> tuple[int, bool]:
    """How many rows match, counted up to COUNT_CAP (beyond it, "10,000+" is enough)."""
    limited = (
        query.with_only_columns(sa.literal(1)).select_from(actions).limit(COUNT_CAP + 1).subquery()
    )
    total = int(connection.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one())
    return min(total, COUNT_CAP), total > COUNT_CAP


def _rows(connection: sa.Connection, query: sa.Select[Any]) -> list[ActionRow]:
    return [ActionRow(**row) for row in connection.execute(query).mappings()]


def _next(rows: list[ActionRow]) -> Cursor | None:
    if len(rows) <= PAGE_SIZE:
        return None
    last = rows[PAGE_SIZE - 1]
    return Cursor(last.created_at, last.id)
