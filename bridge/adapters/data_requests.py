"""Customers' data requests of a shop, and the export of what the sync log holds for each."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.adapters.tables import actions, api_calls, deliveries

DATA_REQUEST_TOPIC = "customers/data_request"


@dataclass(frozen=True)
class DataRequest:
    """One `customers/data_request` delivery: who asked, about which orders, when."""

    delivery_id: int
    shop: str
    received_at: datetime
    request_id: int | None
    customer_id: int | None
    order_ids: list[str]


class DataRequests:
    """Reads a shop's data requests and builds their exports."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def of_shop(self, shop: str) -> list[DataRequest]:
        """The shop's data requests, newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(deliveries)
                .where(
                    deliveries.c.shop == shop,
                    deliveries.c.topic == DATA_REQUEST_TOPIC,
                    deliveries.c.result == "accepted",
                )
                .order_by(deliveries.c.received_at.desc(), deliveries.c.id.desc())
            ).mappings()
            return [_request(row) for row in rows]

    def one(self, shop: str, delivery_id: int) -> DataRequest | None:
        """One data request of this shop (of no other), or None."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(
                    sa.select(deliveries).where(
                        deliveries.c.id == delivery_id,
                        deliveries.c.shop == shop,
                        deliveries.c.topic == DATA_REQUEST_TOPIC,
                        deliveries.c.result == "accepted",
                    )
                )
                .mappings()
                .one_or_none()
            )
        return None if row is None else _request(row)

    def export(self, request: DataRequest) -> dict[str, Any]:
        """Everything kept about the request's orders: deliveries, actions, API calls."""
        ids = sorted(set(request.order_ids))
        with self.engine.connect() as connection:
            found_deliveries = [
                _delivery_document(row)
                for row in connection.execute(
                    sa.select(deliveries)
                    .where(deliveries.c.shop == request.shop, deliveries.c.order_id.in_(ids))
                    .order_by(deliveries.c.received_at, deliveries.c.id)
                ).mappings()
            ]
            found_actions = [
                _action_document(connection, row)
                for row in connection.execute(
                    sa.select(actions)
                    .where(actions.c.shop == request.shop, actions.c.order_id.in_(ids))
                    .order_by(actions.c.created_at, actions.c.id)
                ).mappings()
            ]
        return {
            "shop": request.shop,
            "data_request_id": request.request_id,
            "customer_id": request.customer_id,
            "requested_at": request.received_at.isoformat(),
            "orders": [
                {
                    "order_id": order_id,
                    "deliveries": [d for d in found_deliveries if d["order_id"] == order_id],
                    "actions": [a for a in found_actions if a["order_id"] == order_id],
                }
                for order_id in ids
            ],
        }


def _request(row: sa.RowMapping) -> DataRequest:
    kept = _readable(row["payload"])
    kept = kept if isinstance(kept, dict) else {}
    return DataRequest(
        delivery_id=int(row["id"]),
        shop=row["shop"],
        received_at=row["received_at"],
        request_id=(kept.get("data_request") or {}).get("id"),
        customer_id=(kept.get("customer") or {}).get("id"),
        order_ids=[str(order_id) for order_id in kept.get("orders_requested") or []],
    )


def _readable(text: str | None) -> Any:
    """A stored body as JSON when it is JSON, else as the text it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _delivery_document(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "order_id": row["order_id"],
        "topic": row["topic"],
        "received_at": _time(row["received_at"]),
        "result": row["result"],
        "reason": row["reason"],
        "payload": _readable(row["payload"]),
    }


def _action_document(connection: sa.Connection, row: sa.RowMapping) -> dict[str, Any]:
    calls = connection.execute(
        sa.select(api_calls)
        .where(api_calls.c.action_id == row["id"])
        .order_by(api_calls.c.created_at, api_calls.c.id)
    ).mappings()
    return {
        "order_id": row["order_id"],
        "id": row["id"],
        "kind": row["kind"],
        "outcome": row["outcome"],
        "reason": row["reason"],
        "message": row["message"],
        "detail": row["detail"],
        "created_at": _time(row["created_at"]),
        "finished_at": _time(row["finished_at"]),
        "api_calls": [
            {
                "service": call["service"],
                "method": call["method"],
                "url": call["url"],
                "status": call["status"],
                "at": _time(call["created_at"]),
                "request_body": _readable(call["request_body"]),
                "response_body": _readable(call["response_body"]),
            }
            for call in calls
        ],
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
