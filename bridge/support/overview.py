"""The state at a glance: outcomes of the last day and week, actions per day, lateness, speed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions
from bridge.domain.actions import ActionKind
from bridge.domain.outcomes import Outcome

CHART_DAYS = 14
OPEN = "open"
# Cancellations that got an answer from Gelato: the base of the too-late share.
CANCEL_VERDICTS = (
    Outcome.CANCELLED.value,
    Outcome.ALREADY_CANCELLED.value,
    Outcome.PARTIALLY_CANCELLED.value,
    Outcome.TOO_LATE.value,
)


@dataclass(frozen=True)
class Day:
    """Actions created on one day (UTC), by outcome (`open` for those not finished)."""

    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Every action of the day."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class Overview:
    """What the overview page shows."""

    last_day: dict[str, int]
    last_week: dict[str, int]
    days: list[Day]
    too_late: int
    partially_cancelled: int
    cancel_verdicts: int
    median_ms: float | None
    timed_actions: int

    @property
    def too_late_share(self) -> float | None:
        """The share of cancellations (with a verdict) in the last week that came too late."""
        return self.too_late / self.cancel_verdicts if self.cancel_verdicts else None

    @property
    def busiest_day(self) -> int:
        """The largest daily total of the chart (its scale)."""
        return max((day.total for day in self.days), default=0)


def overview(engine: Engine, scope: tuple[str, ...] | None, now: datetime) -> Overview:
    """Compute the overview for the shops in `scope` (None: all) as of `now`."""
    week_ago = now - timedelta(days=7)
    first_day = (now - timedelta(days=CHART_DAYS - 1)).date()
    with engine.connect() as connection:
        last_day = _by_outcome(connection, scope, now - timedelta(days=1))
        last_week = _by_outcome(connection, scope, week_ago)
        days = _per_day(connection, scope, first_day, now.date())
        verdicts = _by_outcome(connection, scope, week_ago, kind=ActionKind.CANCEL)
        median, timed = _median_ms(connection, scope, week_ago)
    return Overview(
        last_day=last_day,
        last_week=last_week,
        days=days,
        too_late=verdicts.get(Outcome.TOO_LATE.value, 0),
        partially_cancelled=verdicts.get(Outcome.PARTIALLY_CANCELLED.value, 0),
        cancel_verdicts=sum(verdicts.get(name, 0) for name in CANCEL_VERDICTS),
        median_ms=median,
        timed_actions=timed,
    )


def _where(query: sa.Select[Any], scope: tuple[str, ...] | None, since: datetime) -> sa.Select[Any]:
    query = query.where(actions.c.created_at >= since)
    return query if scope is None else query.where(actions.c.shop.in_(scope))


def _by_outcome(
    connection: sa.Connection,
    scope: tuple[str, ...] | None,
    since: datetime,
    kind: str | None = None,
) -> dict[str, int]:
    query = _where(sa.select(actions.c.outcome, sa.func.count()), scope, since)
    if kind is not None:
        query = query.where(actions.c.kind == kind)
    rows = connection.execute(query.group_by(actions.c.outcome))
    return {outcome or OPEN: int(count) for outcome, count in rows}


def _per_day(
    connection: sa.Connection, scope: tuple[str, ...] | None, first: date, last: date
) -> list[Day]:
    day = sa.func.date(actions.c.created_at)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    query = _where(sa.select(day, actions.c.outcome, sa.func.count()), scope, since)
    counts: dict[date, dict[str, int]] = {}
    for when, outcome, count in connection.execute(query.group_by(day, actions.c.outcome)):
        # SQLite answers 'YYYY-MM-DD', PostgreSQL a date.
        key = when if isinstance(when, date) else date.fromisoformat(str(when))
        counts.setdefault(key, {})[outcome or OPEN] = int(count)
    span = (last - first).days + 1
    return [
        Day(first + timedelta(days=offset), counts.get(first + timedelta(days=offset), {}))
        for offset in range(span)
    ]


def _median_ms(
    connection: sa.Connection, scope: tuple[str, ...] | None, since: datetime
) -> tuple[float | None, int]:
    """The median time from receiving the webhook to the first Gelato call, and its sample."""
    elapsed = _elapsed_ms(connection.dialect.name)
    base = _where(sa.select(elapsed), scope, since).where(
        actions.c.first_gelato_call_at.is_not(None)
    )
    count = int(
        connection.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    )
    if not count:
        return None, 0
    middle = list(
        connection.execute(
            base.order_by(elapsed).offset((count - 1) // 2).limit(2 if count % 2 == 0 else 1)
        ).scalars()
    )
    return sum(float(value) for value in middle) / len(middle), count


def _elapsed_ms(dialect: str) -> sa.ColumnElement[Any]:
    """first_gelato_call_at - created_at in milliseconds, in the database's own arithmetic."""
    if dialect == "postgresql":
        return sa.func.extract(
            "epoch", actions.c.first_gelato_call_at - actions.c.created_at
        ) * sa.literal(1000.0)
    return (
        sa.func.julianday(actions.c.first_gelato_call_at) - sa.func.julianday(actions.c.created_at)
    ) * sa.literal(86_400_000.0)
