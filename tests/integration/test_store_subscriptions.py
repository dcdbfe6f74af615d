"""The store client's webhook subscription calls, over a real session answered by `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import responses

from bridge.adapters.http import RecordingTransport
from bridge.adapters.storage import ApiCall
from bridge.adapters.store import ShopifyAdminClient, Subscription
from bridge.domain.errors import PermanentError
from tests.conftest import ACCESS_TOKEN, SHOP

URL = f"https://{SHOP}/admin/api/2026-07/graphql.json"
HOOK = "https://bridge.example.com/webhooks/shopify"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def store() -> Iterator[ShopifyAdminClient]:
    session = requests.Session()
    calls: list[ApiCall] = []
    transport = RecordingTransport(
        session, "store", calls.append, lambda: datetime.now(UTC), 2.0, (ACCESS_TOKEN,)
    )
    yield ShopifyAdminClient(transport, URL, ACCESS_TOKEN)
    session.close()


def test_subscriptions_are_listed_by_topic(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    nodes = [{"id": "gid://shopify/WebhookSubscription/1", "topic": "ORDERS_CREATE", "uri": HOOK}]
    http.post(URL, json={"data": {"webhookSubscriptions": {"nodes": nodes}}})

    found = store.webhook_subscriptions(["ORDERS_CREATE", "ORDERS_UPDATED"])

    sent = json.loads(http.calls[0].request.body or "{}")
    assert "webhookSubscriptions(" in sent["query"]
    assert sent["variables"] == {"topics": ["ORDERS_CREATE", "ORDERS_UPDATED"]}
    assert found == [Subscription("gid://shopify/WebhookSubscription/1", "ORDERS_CREATE", HOOK)]


def test_a_subscription_is_created_with_its_uri_as_json(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    created = {"webhookSubscription": {"id": "gid://shopify/WebhookSubscription/2"}}
    http.post(URL, json={"data": {"webhookSubscriptionCreate": {**created, "userErrors": []}}})

    store.create_webhook_subscription("ORDERS_CANCELLED", HOOK)

    sent = json.loads(http.calls[0].request.body or "{}")
    assert sent["query"].lstrip().startswith("mutation")
    assert sent["variables"] == {
        "topic": "ORDERS_CANCELLED",
        "webhookSubscription": {"uri": HOOK, "format": "JSON"},
    }


def test_a_refused_subscription_is_a_permanent_error(
    store: ShopifyAdminClient, http: responses.RequestsMock
) -> None:
    refused = {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}
    http.post(
        URL,
        json={"data": {"webhookSubscriptionCreate": {"webhookSubscription": None,
                                                     "userErrors": [refused]}}},
    )  # fmt: skip

    with pytest.raises(PermanentError, match="Address is invalid"):
        store.create_webhook_subscription("ORDERS_CANCELLED", HOOK)
