"""Finding work the sync log holds but the queue may have lost."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions
from bridge.domain.actions import ActionState, ReportState

LIMIT = 1000


def unfinished_actions(engine: Engine, older_than: datetime) -> list[str]:
    """Actions without an outcome, idle since before `older_than`, oldest first.

    A retry waiting for its time is not idle until that time has passed too.
    """
    query = (
        sa.select(actions.c.id)
        .where(
            actions.c.state != ActionState.DONE,
            actions.c.updated_at < older_than,
            sa.or_(actions.c.next_attempt_at.is_(None), actions.c.next_attempt_at < older_than),
        )
        .order_by(actions.c.updated_at)
        .limit(LIMIT)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def unreported_actions(engine: Engine, older_than: datetime) -> list[str]:
    """Finished actions whose report-back is still pending since before `older_than`."""
    query = (
        sa.select(actions.c.id)
        .where(
            actions.c.state == ActionState.DONE,
            actions.c.report_state == ReportState.PENDING,
            actions.c.updated_at < older_than,
        )
        .order_by(actions.c.updated_at)
        .limit(LIMIT)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())
