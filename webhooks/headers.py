"""The store's webhook headers, under either the `X-Shopify-` or the newer `Shopify-` names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from werkzeug.datastructures import Headers

from bridge.domain.events import parse_timestamp


@dataclass(frozen=True)
class WebhookHeaders:
    """What a delivery says about itself in its headers."""

    hmac: str | None
    topic: str | None
    shop: str | None
    webhook_id: str | None
    event_id: str | None
    api_version: str | None
    triggered_at: datetime | None


def read_headers(headers: Headers) -> WebhookHeaders:
    """Read a delivery's headers (looked up case-insensitively)."""

    def get(name: str) -> str | None:
        value = headers.get(f"X-Shopify-{name}") or headers.get(f"Shopify-{name}")
        return value.strip() if value and value.strip() else None

    return WebhookHeaders(
        hmac=get("Hmac-Sha256"),
        topic=get("Topic"),
        shop=(get("Shop-Domain") or "").lower() or None,
        webhook_id=get("Webhook-Id"),
        event_id=get("Event-Id"),
        api_version=get("API-Version"),
        triggered_at=parse_timestamp(get("Triggered-At")),
    )
