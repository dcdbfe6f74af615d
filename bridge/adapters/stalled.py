"""Finding work the sync log holds but the queue may have lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions
from bridge.domain.actions import ActionState, ReportState

# Rows read per query. Every page is read: work still queued (a backlog older than the grace)
# must not hide lost work behind it.
PAGE = 1000


def unfinished_actions(engine: Engine, older_than: datetime, page: int = 0) -> Iterator[str]:
    """Actions without an outcome, idle since before `older_than`, oldest first.

    A retry waiting for its time is not idle until that time has passed too.
    """
    return _paged(
        engine,
        sa.and_(
            actions.c.state != ActionState.DONE,
            actions.c.updated_at < older_than,
            sa.or_(actions.c.next_attempt_at.is_(None), actions.c.next_attempt_at < older_than),
        ),
        page,
    )


def unreported_actions(engine: Engine, older_than: datetime, page: int = 0) -> Iterator[str]:
    """Finished actions whose report-back is still pending since before `older_than`."""
    return _paged(
        engine,
        sa.and_(
            actions.c.state == ActionState.DONE,
            actions.c.report_state == ReportState.PENDING,
            actions.c.updated_at < older_than,
        ),
        page,
    )


def _paged(engine: Engine, condition: sa.ColumnElement[bool], page: int) -> Iterator[str]:
    """The ids of the actions matching `condition`, by (updated_at, id), `page` (or PAGE)
    rows at a time."""
    page = page or PAGE
    after: tuple[datetime, str] | None = None
    while True:
        query = sa.select(actions.c.id, actions.c.updated_at).where(condition)
        if after is not None:
            updated, last = after
            query = query.where(
                sa.or_(
                    actions.c.updated_at > updated,
                    sa.and_(actions.c.updated_at == updated, actions.c.id > last),
                )
            )
        query = query.order_by(actions.c.updated_at, actions.c.id).limit(page)
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            yield row.id
        if len(rows) < page:
            return
        after = (rows[-1].updated_at, rows[-1].id)
