"""The store-admin sandbox answers GraphQL calls like the store admin API over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bridge.sandbox import StoreSandbox, serve_in_thread
from bridge.sandbox.server import RunningServer

SHOP = "sandbox-test.myshopify.com"
TOKEN = "shpat_sandbox_test"
ORDER = "gid://shopify/Order/450789469"
TAGS_ADD = """mutation t($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}"""
METAFIELDS_SET = """mutation m($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { id } userErrors { field message } }
}"""
# The sandbox reads variables by argument name, so the variables are named like the arguments.
SUBSCRIBE = """mutation s(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    userErrors { message }
  }
}"""


class Store:
    """Test client speaking to one running store sandbox."""

    def __init__(self, url: str, session: requests.Session) -> None:
        self.url = url
        self.session = session

    def graphql(
        self, query: str, variables: Any = None, token: str = TOKEN, shop: str = SHOP
    ) -> requests.Response:
        return self.session.post(
            f"{self.url}/shops/{shop}/admin/api/2025-07/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token},
            timeout=10,
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, self.url + path, json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def tags_add(self, tags: Any, order: str = ORDER) -> dict[str, Any]:
        body: dict[str, Any] = self.graphql(TAGS_ADD, {"id": order, "tags": tags}).json()
        return body

    def metafields_set(self, *metafields: dict[str, Any]) -> dict[str, Any]:
        body = self.graphql(METAFIELDS_SET, {"metafields": list(metafields)}).json()
        payload: dict[str, Any] = body["data"]["metafieldsSet"]
        return payload

    def order(self, order_id: str = "450789469") -> dict[str, Any]:
        view: dict[str, Any] = self.control("GET", f"/_sandbox/orders/{SHOP}/{order_id}")
        return view


def metafield(**overrides: Any) -> dict[str, Any]:
    field = {
        "ownerId": ORDER,
        "namespace": "printbridge",
        "key": "sync",
        "type": "json",
        "value": json.dumps({"state": "canceled"}),
    }
    field.update(overrides)
    return field


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(StoreSandbox(tokens={SHOP: TOKEN})) as running:
        yield running


@pytest.fixture
def store(server: RunningServer) -> Iterator[Store]:
    with requests.Session() as session:
        client = Store(server.url, session)
        client.control("POST", "/_sandbox/reset")
        yield client


@pytest.mark.parametrize(("token", "shop"), [("wrong", SHOP), (TOKEN, "other.myshopify.com")])
def test_wrong_access_token_answers_401(store: Store, token: str, shop: str) -> None:
    response = store.graphql(TAGS_ADD, {"id": ORDER, "tags": ["a"]}, token=token, shop=shop)
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    assert store.order()["tags"] == []


def test_tags_add_answers_the_node_and_the_query_cost(store: Store) -> None:
    body = store.tags_add(["bridge:cancel-synced"])
    assert body["data"] == {"tagsAdd": {"node": {"id": ORDER}, "userErrors": []}}
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0


def test_tags_add_accumulates_tags_without_duplicates(store: Store) -> None:
    store.tags_add(["vip", "bridge:cancel-synced"])
    store.tags_add("bridge:cancel-synced, gelato:canceled")
    assert store.order()["tags"] == ["vip", "bridge:cancel-synced", "gelato:canceled"]


def test_tags_add_with_a_non_order_id_answers_user_errors(store: Store) -> None:
    body = store.tags_add(["a"], order="gid://shopify/Product/1")
    payload = body["data"]["tagsAdd"]
    assert payload["node"] is None
    assert payload["userErrors"][0]["field"] == ["id"]


def test_metafields_set_stores_by_namespace_and_key_and_keeps_the_id(store: Store) -> None:
    first = store.metafields_set(metafield())
    second = store.metafields_set(metafield(value='{"state": "printed"}'))
    assert first["userErrors"] == second["userErrors"] == []
    assert first["metafields"][0]["id"] == second["metafields"][0]["id"]
    assert first["metafields"][0]["id"].startswith("gid://shopify/Metafield/")
    stored = store.order()["metafields"]["printbridge.sync"]
    assert (stored["type"], stored["value"]) == ("json", '{"state": "printed"}')


def test_metafields_set_with_invalid_json_answers_user_error_and_writes_nothing(
    store: Store,
) -> None:
    payload = store.metafields_set(metafield(key="good"), metafield(value="{not json"))
    assert payload["metafields"] == []
    assert payload["userErrors"][0]["field"] == ["metafields", "1", "value"]
    assert "JSON" in payload["userErrors"][0]["message"]
    assert store.order()["metafields"] == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"namespace": "ab"}, "namespace"),
        ({"namespace": "n" * 256}, "namespace"),
        ({"key": "k"}, "key"),
        ({"key": "k" * 65}, "key"),
        ({"type": ""}, "type"),
        ({"value": ""}, "value"),
    ],
)
def test_metafields_set_with_a_bad_field_answers_user_error_naming_it(
    store: Store, change: dict[str, str], field: str
) -> None:
    payload = store.metafields_set(metafield(**change))
    assert payload["userErrors"][0]["field"] == ["metafields", "0", field]


def test_metafields_set_with_more_than_25_answers_user_error(store: Store) -> None:
    payload = store.metafields_set(*(metafield(key=f"k{n}") for n in range(26)))
    assert payload["userErrors"][0]["field"] == ["metafields"]
    assert store.order()["metafields"] == {}


def test_throttled_fault_answers_200_with_a_throttled_error_then_recovers(store: Store) -> None:
    store.control("POST", "/_sandbox/faults", {"kind": "throttled", "count": 1})
    throttled = store.graphql(TAGS_ADD, {"id": ORDER, "tags": ["a"]})
    assert throttled.status_code == 200
    body = throttled.json()
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    assert store.order()["tags"] == []
    assert store.tags_add(["a"])["data"]["tagsAdd"]["userErrors"] == []


def test_429_fault_answers_429_with_retry_after(store: Store) -> None:
    store.control("POST", "/_sandbox/faults", {"kind": "429", "count": 2, "retry_after": 3})
    answers = [store.graphql(TAGS_ADD, {"id": ORDER, "tags": ["a"]}) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"


def test_500_fault_answers_500(store: Store) -> None:
    store.control("POST", "/_sandbox/faults", {"kind": "500"})
    assert store.graphql(TAGS_ADD, {"id": ORDER, "tags": ["a"]}).status_code == 500


def test_unknown_operation_answers_200_with_errors(store: Store) -> None:
    response = store.graphql("{ shop { name } }")
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"]


def test_missing_variable_answers_a_top_level_error(store: Store) -> None:
    response = store.graphql(TAGS_ADD, {"tags": ["a"]})
    assert response.status_code == 200
    assert "$id" in response.json()["errors"][0]["message"]


def test_webhook_subscriptions_are_created_and_listed(store: Store) -> None:
    created = store.graphql(
        SUBSCRIBE,
        {"topic": "ORDERS_CANCELLED", "webhookSubscription": {"uri": "https://b.example/w"}},
    ).json()["data"]["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    assert created["webhookSubscription"]["id"].startswith("gid://shopify/WebhookSubscription/")
    store.graphql(
        SUBSCRIBE,
        {"topic": "ORDERS_UPDATED", "webhookSubscription": {"callbackUrl": "https://b.example/w"}},
    )
    listed = store.graphql("query { webhookSubscriptions(first: 10) { nodes { id } } }").json()
    nodes = listed["data"]["webhookSubscriptions"]["nodes"]
    assert [node["topic"] for node in nodes] == ["ORDERS_CANCELLED", "ORDERS_UPDATED"]


def test_duplicate_webhook_subscription_answers_user_error(store: Store) -> None:
    variables = {"topic": "ORDERS_CANCELLED", "webhookSubscription": {"uri": "https://b.example/w"}}
    store.graphql(SUBSCRIBE, variables)
    again = store.graphql(SUBSCRIBE, variables).json()["data"]["webhookSubscriptionCreate"]
    assert again["webhookSubscription"] is None
    assert "taken" in again["userErrors"][0]["message"]


def test_shop_registered_by_control_endpoint_is_accepted(store: Store) -> None:
    store.control("POST", "/_sandbox/shops", {"shop": "new.myshopify.com", "token": "t2"})
    response = store.graphql(
        TAGS_ADD, {"id": ORDER, "tags": ["a"]}, token="t2", shop="new.myshopify.com"
    )
    assert response.status_code == 200


def test_call_log_records_shop_operation_variables_and_status(store: Store) -> None:
    store.tags_add(["a"])
    store.graphql(TAGS_ADD, {"id": ORDER, "tags": ["a"]}, token="wrong")
    calls = store.control("GET", "/_sandbox/calls")
    assert [(c["shop"], c["operation"], c["status"]) for c in calls] == [
        (SHOP, "tagsAdd", 200),
        (SHOP, "tagsAdd", 401),
    ]
    assert calls[0]["variables"] == {"id": ORDER, "tags": ["a"]}
    assert isinstance(calls[0]["at"], float)
