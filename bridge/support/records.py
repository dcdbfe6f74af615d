"""What the console writes: handled notes, and new actions that re-evaluate finished ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.storage import ActionRecord
from bridge.adapters.tables import actions, attention_notes
from bridge.domain.actions import ActionKind, ActionState, ReportState

MAX_NOTE = 2000


@dataclass(frozen=True)
class Blocker:
    """Why an action may not be re-evaluated now: a reason code and words."""

    reason: str
    message: str


class SupportRecords:
    """Writes of the support console; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mark_handled(self, action_id: str, by: str, note: str, now: datetime) -> bool:
        """Record that someone dealt with the action; False if it was handled already."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    attention_notes.insert().values(
                        action_id=action_id,
                        handled_by=by[:255],
                        handled_at=now,
                        note=note.strip()[:MAX_NOTE],
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def blocker(self, action: ActionRecord) -> Blocker | None:
        """What stops a re-evaluation of `action` now, or None when it may run."""
        if action.state != ActionState.DONE:
            return Blocker("reevaluate.not_finished", "This action has not finished yet.")
        same_order = sa.and_(actions.c.shop == action.shop, actions.c.order_id == action.order_id)
        with self.engine.connect() as connection:
            busy = connection.execute(
                sa.select(actions.c.id)
                .where(same_order, actions.c.state != ActionState.DONE)
                .limit(1)
            ).scalar_one_or_none()
            newer = None
            if action.kind == ActionKind.ADDRESS_UPDATE:
                newer = connection.execute(
                    sa.select(actions.c.id)
                    .where(
                        same_order,
                        actions.c.kind == ActionKind.ADDRESS_UPDATE,
                        actions.c.created_at > action.created_at,
                    )
                    .limit(1)
                ).scalar_one_or_none()
        if busy is not None:
            return Blocker(
                "reevaluate.order_busy",
                f"Action {busy} for this order is waiting or running: let it finish first.",
            )
        if newer is not None:
            # Re-issuing an older address would undo the newer edit.
            return Blocker(
                "reevaluate.newer_address",
                f"A newer address edit of this order exists (action {newer}): "
                "re-evaluate that one instead.",
            )
        return None

    def add_reevaluation(
        self,
        original: ActionRecord,
        new_id: str,
        detail: dict[str, Any],
        dry_run: bool,
        now: datetime,
    ) -> None:
        """A new pending action that does the original's work again, linked to it."""
        with self.engine.begin() as connection:
            connection.execute(
                actions.insert().values(
                    id=new_id,
                    shop=original.shop,
                    order_id=original.order_id,
                    order_name=original.order_name,
                    order_gid=original.order_gid,
                    reference=original.reference,
                    kind=original.kind,
                    dedupe_key=f"reevaluate:{original.id}:{new_id}",
                    state=ActionState.PENDING,
                    detail=detail,
                    attempts=0,
                    dry_run=dry_run,
                    created_at=now,
                    updated_at=now,
                    report_state=ReportState.NONE,
                )
            )
