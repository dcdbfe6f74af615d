"""Which store topics printbridge acts on, and how: order topics and whole-shop topics."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.adapters.recording import Recorded
from bridge.compliance import receive_customer_redact, receive_data_request, receive_shop_redact
from bridge.intake import Incoming, Plan, plan_address_update, plan_cancellation, plan_order_created
from bridge.intake import receive as receive_order
from bridge.services import Services
from bridge.shop_topics import ShopHandler, receive_shop_topic
from bridge.uninstall import receive_uninstall

TOPICS: dict[str, Plan] = {
    "orders/cancelled": plan_cancellation,
    "orders/updated": plan_address_update,
    "orders/create": plan_order_created,
}

# About the whole shop, not one order: the app's removal and the privacy requests.
SHOP_TOPICS: dict[str, ShopHandler] = {
    "app/uninstalled": receive_uninstall,
    "customers/data_request": receive_data_request,
    "customers/redact": receive_customer_redact,
    "shop/redact": receive_shop_redact,
}


@dataclass(frozen=True)
class OrderTopic:
    """An order topic: the delivery is read as an order event and planned by `plan`."""

    plan: Plan

    def receive(self, services: Services, incoming: Incoming) -> Recorded:
        """Record the delivery and the action it asks for, then queue the action."""
        return receive_order(services, incoming, self.plan)


@dataclass(frozen=True)
class ShopTopic:
    """A topic about the whole shop, recorded without an order id and handled by `handle`."""

    handle: ShopHandler

    def receive(self, services: Services, incoming: Incoming) -> Recorded:
        """Record the delivery and do (or queue) what it asks for."""
        return receive_shop_topic(services, incoming, self.handle)


Route = OrderTopic | ShopTopic

ROUTES: dict[str, Route] = {
    **{topic: OrderTopic(plan) for topic, plan in TOPICS.items()},
    **{topic: ShopTopic(handle) for topic, handle in SHOP_TOPICS.items()},
}


def plan_for(topic: str) -> Plan | None:
    """The intake rule of an order topic, or None."""
    return TOPICS.get(topic)


def route_for(topic: str) -> Route | None:
    """How to receive a topic, or None for a topic printbridge ignores."""
    return ROUTES.get(topic)


def topic_label(topic: str | None) -> str:
    """A topic as a metric label: the topics printbridge knows by name, any other as `other`.

    Unsigned requests name any topic they like; a label must come from a fixed set.
    """
    return topic if topic in ROUTES else "other"
