"""Each installed shop's order webhooks, subscribed through the Admin API: checked, re-created.

`shopify.app.toml` declares every topic for the app as a whole; on install, and then
periodically, the order topics are also subscribed per shop with `webhookSubscriptionCreate`,
because the store deletes such subscriptions after repeated failed deliveries (reference
shopify.md §1.5) and nothing else would notice. Deliveries that arrive twice (once per
subscription) are told apart by the delivery id and end in one action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bridge.adapters.storage import ApiCall
from bridge.domain.errors import PermanentError, TransientError
from bridge.services import Services

log = logging.getLogger(__name__)

# The order topics printbridge acts on, as the Admin API names them.
ORDER_TOPICS = {
    "orders/create": "ORDERS_CREATE",
    "orders/updated": "ORDERS_UPDATED",
    "orders/cancelled": "ORDERS_CANCELLED",
}
WEBHOOK_PATH = "/webhooks/shopify"
CHECK_NAME = "subscription-check"


@dataclass(frozen=True)
class SubscriptionCheck:
    """What checking one shop found: topics in place, topics re-created, or why it could not."""

    shop: str
    present: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    problem: str | None = None

    def __str__(self) -> str:
        if self.problem:
            return f"{self.shop}: not checked ({self.problem})"
        if self.created:
            return f"{self.shop}: re-created {', '.join(self.created)}"
        return f"{self.shop}: all {len(self.present)} subscriptions in place"


def webhook_address(services: Services) -> str | None:
    """Where the store is to send webhooks: BRIDGE_PUBLIC_URL + /webhooks/shopify."""
    public = services.settings.public_url
    return f"{public}{WEBHOOK_PATH}" if public else None


def check_shop(services: Services, shop: str) -> SubscriptionCheck:
    """Make sure the shop has one subscription per order topic to this deployment.

    Raises TransientError when the store could not be reached (the job is retried).
    """
    address = webhook_address(services)
    if address is None:
        return SubscriptionCheck(shop, problem="install.not_configured")
    access = services.shops.load(shop)
    if access is None or not access.installed or not access.access_token:
        return SubscriptionCheck(shop, problem="shop.uninstalled")
    admin = services.store(access, _log_call)
    try:
        found = admin.webhook_subscriptions(list(ORDER_TOPICS.values()))
        present = sorted({item.topic for item in found if item.uri == address})
        missing = [topic for topic in ORDER_TOPICS.values() if topic not in present]
        for topic in missing:
            admin.create_webhook_subscription(topic, address)
    except PermanentError as error:
        log.warning("subscriptions of %s not checked: %s", shop, error.reason)
        return SubscriptionCheck(shop, problem=error.reason)
    if missing:
        log.info("re-created subscriptions of %s: %s", shop, ", ".join(missing))
    return SubscriptionCheck(shop, present=present, created=missing)


def check_all(services: Services) -> list[SubscriptionCheck]:
    """Check every installed shop; one shop's failure does not stop the others."""
    checks = []
    for shop in services.shop_records.installed_domains():
        try:
            checks.append(check_shop(services, shop))
        except TransientError as error:
            log.warning("subscriptions of %s not checked: %s", shop, error.reason)
            checks.append(SubscriptionCheck(shop, problem=error.reason))
    return checks


def _log_call(call: ApiCall) -> None:
    # Not an action's call, so not in the sync log: the log line is the record.
    log.info("store %s %s -> %s", call.method, call.url, call.status or call.error)
