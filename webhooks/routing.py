"""Which store topics printbridge acts on, and the intake rule for each."""

from __future__ import annotations

from bridge.intake import Plan, plan_address_update, plan_cancellation, plan_order_created

TOPICS: dict[str, Plan] = {
    "orders/cancelled": plan_cancellation,
    "orders/updated": plan_address_update,
    "orders/create": plan_order_created,
}


def plan_for(topic: str) -> Plan | None:
    """The intake rule for a topic, or None for a topic printbridge ignores."""
    return TOPICS.get(topic)
