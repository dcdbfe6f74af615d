"""The store's Admin GraphQL API: tags and metafields on an order, webhook subscriptions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.adapters.http import Exchange, RecordingTransport
from bridge.adapters.redaction import redact_text
from bridge.domain.errors import PermanentError, TransientError
from bridge.domain.retry import Answer, classify_status, parse_retry_after

TAGS_ADD = """mutation printbridgeTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}"""

METAFIELDS_SET = """mutation printbridgeMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}"""

WEBHOOK_SUBSCRIPTIONS = """query printbridgeSubscriptions($topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: 100, topics: $topics) { nodes { id topic uri } }
}"""

WEBHOOK_SUBSCRIPTION_CREATE = """mutation printbridgeSubscribe(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}"""


@dataclass(frozen=True)
class Subscription:
    """One of the shop's webhook subscriptions made through the Admin API."""

    id: str
    topic: str
    uri: str


class StoreAdmin(Protocol):
    """What printbridge writes onto a store order."""

    def add_tags(self, order_gid: str, tags: list[str]) -> None:
        """Add tags to the order, keeping the ones it has."""
        ...

    def set_json_metafield(
        self, order_gid: str, namespace: str, key: str, value: dict[str, Any]
    ) -> None:
        """Write one `json` metafield on the order."""
        ...


class WebhookAdmin(Protocol):
    """The shop's webhook subscriptions made through the Admin API."""

    def webhook_subscriptions(self, topics: list[str]) -> list[Subscription]:
        """The subscriptions for these topics (GraphQL enum names like ORDERS_CANCELLED)."""
        ...

    def create_webhook_subscription(self, topic: str, uri: str) -> None:
        """Subscribe `uri` to one topic."""
        ...


class ShopifyAdminClient:
    """StoreAdmin over the Admin GraphQL endpoint of one shop."""

    def __init__(self, transport: RecordingTransport, url: str, access_token: str) -> None:
        self._transport = transport
        self._url = url
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json"}
        self._secrets = (access_token,)

    def add_tags(self, order_gid: str, tags: list[str]) -> None:
        self._mutate("tagsAdd", TAGS_ADD, {"id": order_gid, "tags": tags})

    def set_json_metafield(
        self, order_gid: str, namespace: str, key: str, value: dict[str, Any]
    ) -> None:
        metafield = {
            "ownerId": order_gid,
            "namespace": namespace,
            "key": key,
            "type": "json",
            "value": json.dumps(value, sort_keys=True),
        }
        self._mutate("metafieldsSet", METAFIELDS_SET, {"metafields": [metafield]})

    def webhook_subscriptions(self, topics: list[str]) -> list[Subscription]:
        payload = self._graphql("webhookSubscriptions", WEBHOOK_SUBSCRIPTIONS, {"topics": topics})
        return [
            Subscription(str(node.get("id")), str(node.get("topic")), str(node.get("uri") or ""))
            for node in payload.get("nodes") or []
            if isinstance(node, dict)
        ]

    def create_webhook_subscription(self, topic: str, uri: str) -> None:
        self._mutate(
            "webhookSubscriptionCreate",
            WEBHOOK_SUBSCRIPTION_CREATE,
            {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
        )

    def _graphql(self, field: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        exchange = self._transport.send(
            "POST",
            self._url,
            headers=self._headers,
            payload={"query": query, "variables": variables},
        )
        _raise_for_http(exchange)
        body = exchange.body if isinstance(exchange.body, dict) else {}
        _raise_for_graphql_errors(body, self._secrets)
        payload = (body.get("data") or {}).get(field) or {}
        return payload if isinstance(payload, dict) else {}

    def _mutate(self, field: str, query: str, variables: dict[str, Any]) -> None:
        payload = self._graphql(field, query, variables)
        user_errors = payload.get("userErrors") or []
        if user_errors:
            messages = "; ".join(str(error.get("message")) for error in user_errors)
            raise PermanentError(
                "store.user_error", redact_text(f"{field} was refused: {messages}", self._secrets)
            )


def _raise_for_http(exchange: Exchange) -> None:
    answer = classify_status(exchange.status)
    if answer is Answer.OK:
        return
    if answer is Answer.TRANSIENT:
        raise TransientError(
            "store.rate_limited" if exchange.status == 429 else "store.unavailable",
            f"the store answered {exchange.status}",
            retry_after=parse_retry_after(exchange.headers.get("Retry-After")),
        )
    reason = {401: "store.unauthorized", 403: "store.forbidden", 404: "store.not_found"}.get(
        exchange.status, "store.rejected"
    )
    raise PermanentError(reason, f"the store answered {exchange.status}")


def _raise_for_graphql_errors(body: dict[str, Any], secrets: tuple[str, ...]) -> None:
    errors = body.get("errors")
    if not errors:
        return
    if isinstance(errors, list) and any(
        (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in errors
        if isinstance(error, dict)
    ):
        raise TransientError(
            "store.throttled", "the store throttled the request", retry_after=_throttle_wait(body)
        )
    message = redact_text(f"the store refused the request: {errors!r:.300}", secrets)
    raise PermanentError("store.graphql_error", message)


def _throttle_wait(body: dict[str, Any]) -> float:
    """Seconds until the cost bucket holds enough points again, at least one."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost.get("requestedQueryCost") or 10) - float(
            status.get("currentlyAvailable") or 0
        )
        return max(1.0, missing / float(status.get("restoreRate") or 50))
    except (TypeError, ValueError):
        return 1.0
