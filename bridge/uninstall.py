"""`app/uninstalled`: the shop's tokens and Gelato key go, and everything waiting for it ends.

Done at once, on the webhook path: it is a bounded change of one shop's row and its waiting
actions, and it must stop the worker before it acts with credentials the merchant has revoked.
Later deliveries from the shop are acknowledged and recorded as `ignored` (`shop.uninstalled`);
`shop/redact` follows 48 hours later and erases what is left.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bridge.adapters.recording import Recorded
from bridge.adapters.shop_values import Uninstalled
from bridge.intake import Incoming
from bridge.services import Services
from bridge.shop_topics import read_body, record

log = logging.getLogger(__name__)


def receive_uninstall(services: Services, incoming: Incoming) -> Recorded:
    """Uninstall the shop (idempotent, so a repeat is harmless), then record the delivery."""
    body = read_body(services, incoming, "myshopify_domain")
    # The store's own time of the uninstall: a reinstall after it stays untouched.
    done = uninstall(services, incoming.shop, incoming.triggered_at or incoming.received_at)
    kept = {"id": body.get("id") if isinstance(body.get("id"), int) else None}
    if not done.applied:
        return record(services, incoming, "ignored", "shop.reinstalled_since", kept)
    return record(services, incoming, "uninstalled", None, kept)


def uninstall(services: Services, shop: str, at: datetime) -> Uninstalled:
    """Delete the shop's credentials, mark it uninstalled, end its waiting actions."""
    done = services.shop_records.uninstall(shop, at, services.clock(), services.shop_defaults)
    services.shops.forget(shop)
    if done.applied:
        log.info("uninstalled from %s; %d waiting action(s) ended", shop, len(done.ended_actions))
    return done
