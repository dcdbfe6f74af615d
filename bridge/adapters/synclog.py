"""The sync log read back: one order's story, and lists of actions, as JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions, api_calls, attempts, deliveries

MAX_LIMIT = 500


class SyncLog:
    """Reads the sync log for support: the JSON API and the CLI show the same documents."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def order(self, shop: str, order_id: str) -> dict[str, Any] | None:
        """Everything about one store order: deliveries, then actions with attempts and calls."""
        with self.engine.connect() as connection:
            delivery_rows = connection.execute(
                sa.select(deliveries)
                .where(deliveries.c.shop == shop, deliveries.c.order_id == order_id)
                .order_by(deliveries.c.received_at, deliveries.c.id)
            ).mappings()
            found_deliveries = [_delivery(row) for row in delivery_rows]
            action_rows = list(
                connection.execute(
                    sa.select(actions)
                    .where(actions.c.shop == shop, actions.c.order_id == order_id)
                    .order_by(actions.c.created_at, actions.c.id)
                ).mappings()
            )
            found_actions = [self._full_action(connection, row) for row in action_rows]
        if not found_deliveries and not found_actions:
            return None
        return {
            "shop": shop,
            "order_id": order_id,
            "deliveries": found_deliveries,
            "actions": found_actions,
        }

    def actions(
        self,
        *,
        shop: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Actions, newest first, filtered by shop, outcome and creation time."""
        query = sa.select(actions).order_by(actions.c.created_at.desc(), actions.c.id.desc())
        if shop:
            query = query.where(actions.c.shop == shop)
        if outcome:
            query = query.where(actions.c.outcome == outcome)
        if since:
            query = query.where(actions.c.created_at >= since)
        query = query.limit(max(1, min(limit, MAX_LIMIT)))
        with self.engine.connect() as connection:
            return [_action(row) for row in connection.execute(query).mappings()]

    def action_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Actions in the sync log: ended ones by outcome, and open ones by state.

        The first count reads only the index on (outcome, created_at); the second reads the
        rows of open actions alone, which are few.
        """
        with self.engine.connect() as connection:
            by_outcome = connection.execute(
                sa.select(actions.c.outcome, sa.func.count())
                .where(actions.c.outcome.is_not(None))
                .group_by(actions.c.outcome)
            ).all()
            by_state = connection.execute(
                sa.select(actions.c.state, sa.func.count())
                .where(actions.c.outcome.is_(None))
                .group_by(actions.c.state)
            ).all()
        return (
            {str(outcome): int(count) for outcome, count in by_outcome},
            {str(state): int(count) for state, count in by_state},
        )

    def _full_action(self, connection: sa.Connection, row: sa.RowMapping) -> dict[str, Any]:
        document = _action(row)
        document["attempts"] = [
            {
                "number": attempt.number,
                "started_at": _time(attempt.started_at),
                "finished_at": _time(attempt.finished_at),
                "result": attempt.result,
                "reason": attempt.reason,
                "message": attempt.message,
                "retry_in_seconds": attempt.retry_in_seconds,
            }
            for attempt in connection.execute(
                sa.select(attempts)
                .where(attempts.c.action_id == row["id"])
                .order_by(attempts.c.number)
            )
        ]
        document["api_calls"] = [
            {
                "service": call.service,
                "attempt": call.attempt,
                "method": call.method,
                "url": call.url,
                "status": call.status,
                "error": call.error,
                "duration_ms": call.duration_ms,
                "at": _time(call.created_at),
                "request_body": call.request_body,
                "response_body": call.response_body,
            }
            for call in connection.execute(
                sa.select(api_calls)
                .where(api_calls.c.action_id == row["id"])
                .order_by(api_calls.c.created_at, api_calls.c.id)
            )
        ]
        return document


def _action(row: sa.RowMapping) -> dict[str, Any]:
    detail = row["detail"] or {}
    return {
        "id": row["id"],
        "shop": row["shop"],
        "order_id": row["order_id"],
        "order_name": row["order_name"],
        "kind": row["kind"],
        "state": row["state"],
        "outcome": row["outcome"],
        "reason": row["reason"],
        "message": row["message"],
        "dry_run": row["dry_run"],
        "attempt_count": row["attempts"],
        "reference": row["reference"],
        "gelato_orders": detail.get("gelato_orders")
        or [{"id": key, **value} for key, value in (detail.get("parts") or {}).items()],
        "would_be": detail.get("would_be"),
        # Set on an action started from the support console's re-evaluate: the one it redoes.
        "reevaluates": detail.get("reevaluates"),
        "requested_by": detail.get("requested_by"),
        "created_at": _time(row["created_at"]),
        "first_gelato_call_at": _time(row["first_gelato_call_at"]),
        "next_attempt_at": _time(row["next_attempt_at"]),
        "finished_at": _time(row["finished_at"]),
        "report": {
            "state": row["report_state"],
            "reason": row["report_reason"],
            "at": _time(row["reported_at"]),
        },
    }


def _delivery(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "webhook_id": row["webhook_id"],
        "event_id": row["event_id"],
        "topic": row["topic"],
        "api_version": row["api_version"],
        "triggered_at": _time(row["triggered_at"]),
        "received_at": _time(row["received_at"]),
        "event_updated_at": _time(row["event_updated_at"]),
        "result": row["result"],
        "reason": row["reason"],
        "action_id": row["action_id"],
        "duplicates": row["duplicates"],
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
